import { executorFailure, isOutOfMemoryText, protocolViolation } from '../../activities/gpu/executor-failures';
import type { ExecutorExit } from '../../activities/gpu/executor-process';
import type { ErrorKind } from '../../activities/gpu/protocol';

const exit = (over: Partial<ExecutorExit>): ExecutorExit => ({ pid: 1, code: 1, signal: null, cancelled: false, stderrTail: '', ...over });

describe('executor failures', () => {
  it.each([
    'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.74 GiB total capacity; 13.20 GiB already allocated)',
    'torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB',
    'RuntimeError: CUDA out of memory. Tried to allocate 1.50 GiB (GPU 0; 7.79 GiB total capacity)',
    'RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`',
  ])('recognises the OOM text %s', (text) => {
    expect(isOutOfMemoryText(text)).toBe(true);
  });

  it('does not take other errors for OOM', () => {
    expect(isOutOfMemoryText('FileNotFoundError: Dataset data.yaml not found')).toBe(false);
    expect(isOutOfMemoryText('RuntimeError: shape mismatch')).toBe(false);
  });

  it.each<[ErrorKind, string, boolean]>([
    ['oom', 'OutOfMemory', true],
    ['data', 'InvalidDataset', true],
    ['model', 'InvalidModel', true],
    ['config', 'InvalidScenario', true],
    ['unsupported', 'UnsupportedBackend', true],
    ['internal', 'ExecutorCrashed', false],
  ])('maps error kind %s to %s', (kind, type, nonRetryable) => {
    const failure = executorFailure(exit({ error: { event: 'error', kind, message: 'boom' } }));
    expect(failure.type).toBe(type);
    expect(failure.nonRetryable).toBe(nonRetryable);
  });

  it('an internal error whose text is a CUDA OOM is an OOM', () => {
    expect(executorFailure(exit({ error: { event: 'error', kind: 'internal', message: 'RuntimeError: CUDA out of memory.' } })).type).toBe('OutOfMemory');
  });

  it('host-RAM MemoryError is an OOM too, not a retried crash (issue 16)', () => {
    for (const message of ['MemoryError', 'MemoryError: Unable to allocate array', 'numpy.core._exceptions._ArrayMemoryError: Unable to allocate 12.0 GiB for an array']) {
      const failure = executorFailure(exit({ error: { event: 'error', kind: 'internal', message } }));
      expect([failure.type, failure.nonRetryable]).toEqual(['OutOfMemory', true]);
    }
    expect(executorFailure(exit({ code: 1, stderrTail: 'Traceback (most recent call last):\n  File "train.py", line 3\nMemoryError\n' })).type).toBe('OutOfMemory');
    expect(isOutOfMemoryText('ValueError: SomeMemoryErrorLike thing')).toBe(false);
  });

  it('a protocol violation is ExecutorProtocolViolation, not retried, whatever else the exit says', () => {
    const violation = 'executor event "epoch" breaks the protocol: metrics.det.mAP50: Invalid input: expected number, received string';
    const failure = executorFailure(exit({ code: null, signal: 'SIGTERM', violation, error: { event: 'error', kind: 'internal', message: 'boom' } }));
    expect([failure.type, failure.nonRetryable, failure.message]).toEqual(['ExecutorProtocolViolation', true, violation]);
    const unrequested = protocolViolation('executor exported an unrequested variant tensorrt/int8');
    expect([unrequested.type, unrequested.nonRetryable]).toEqual(['ExecutorProtocolViolation', true]);
  });

  it('a silent crash is retryable, unless its stderr shows an OOM', () => {
    const crash = executorFailure(exit({ code: null, signal: 'SIGKILL', stderrTail: 'epoch 3/10' }));
    expect(crash.type).toBe('ExecutorCrashed');
    expect(crash.nonRetryable).toBe(false);
    expect(crash.message).toMatch(/killed by SIGKILL/);
    expect(executorFailure(exit({ stderrTail: 'torch.OutOfMemoryError: CUDA out of memory.' })).type).toBe('OutOfMemory');
  });
});

describe('executor failures, in detail', () => {
  it('reads OOM texts case-insensitively and line by line', () => {
    expect(['cuda OUT OF MEMORY', 'Traceback:\nmemoryerror', 'x\n_ArrayMemoryError: y', 'HIP out of memory', 'CUDA error: out of memory'].map(isOutOfMemoryText)).toEqual([true, true, true, true, true]);
    expect(['NoMemoryError', 'OutOfMemoryErrors', 'x\nFooMemoryError', ''].map(isOutOfMemoryText)).toEqual([false, false, false, false]);
  });

  it('keeps the error event\'s message and kind; an OOM text in another kind than internal keeps that kind', () => {
    const failure = executorFailure(exit({ error: { event: 'error', kind: 'data', message: 'CUDA out of memory while reading labels' } }));
    expect([failure.type, failure.message, failure.details]).toEqual(['InvalidDataset', 'CUDA out of memory while reading labels', [{ kind: 'data' }]]);
    const oom = executorFailure(exit({ error: { event: 'error', kind: 'internal', message: 'MemoryError' } }));
    expect([oom.type, oom.message, oom.details]).toEqual(['OutOfMemory', 'MemoryError', [{ kind: 'internal' }]]);
  });

  it('an error event wins over what stderr shows', () => {
    const failure = executorFailure(exit({ error: { event: 'error', kind: 'config', message: 'bad imgsz' }, stderrTail: 'CUDA out of memory' }));
    expect([failure.type, failure.message]).toEqual(['InvalidScenario', 'bad imgsz']);
  });

  it('a silent end says how it ended, with the last 8 lines of stderr; an OOM in stderr is an OOM', () => {
    const lines = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n');
    const crash = executorFailure(exit({ code: 3, stderrTail: lines }));
    expect([crash.type, crash.nonRetryable, crash.message]).toEqual(['ExecutorCrashed', false, 'executor exited with code 3 without reporting an error\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\nline 10']);
    expect(executorFailure(exit({ code: null, signal: 'SIGKILL', stderrTail: '' })).message).toBe('executor killed by SIGKILL without reporting an error\n');
    const oom = executorFailure(exit({ code: null, signal: 'SIGABRT', stderrTail: 'epoch 3\nRuntimeError: CUDA out of memory. Tried to allocate 2 GiB' }));
    expect([oom.type, oom.nonRetryable, oom.message]).toEqual(['OutOfMemory', true, 'executor killed by SIGABRT: out of memory']);
    expect(executorFailure(exit({ code: 137, stderrTail: 'MemoryError' })).message).toBe('executor exited with code 137: out of memory');
  });

  it('messages are plain text: no colour codes from ultralytics, no progress-bar redraws or blank lines in the stderr lines kept (issue 11 item 6)', () => {
    const coloured = 'FileNotFoundError: \x1b[34m\x1b[1mtrain: \x1b[0mNo labels found in /d/labels/train.cache';
    const reported = executorFailure(exit({ error: { event: 'error', kind: 'data', message: coloured } }));
    expect(reported.message).toBe('FileNotFoundError: train: No labels found in /d/labels/train.cache');
    const stderrTail = ['\x1b[34m\x1b[1mtrain: \x1b[0mScanning 10%\r\x1b[34m\x1b[1mtrain: \x1b[0mScanning 100%', '', 'Traceback (most recent call last):', '  File "train.py", line 9', '\x1b[31mRuntimeError\x1b[0m: boom', ''].join('\n');
    const crash = executorFailure(exit({ code: 1, stderrTail }));
    expect(crash.message).toBe('executor exited with code 1 without reporting an error\ntrain: Scanning 100%\nTraceback (most recent call last):\n  File "train.py", line 9\nRuntimeError: boom');
    expect(crash.message).not.toContain('\x1b[');
  });
});
