import { applyMove, planPromote, planRollback } from '../../common/registry';

const state = (aliases: Record<string, string>) => ({ aliases, versions: ['1', '2', '3'] });

describe('registry moves', () => {
  it('promote: candidate → champion, old champion → rollback, candidate alias removed', () => {
    const before = { champion: '1', candidate: '2' };
    const move = planPromote('m', state(before));
    expect(move).toEqual({ set: { champion: '2', rollback: '1' }, remove: ['candidate'] });
    expect(applyMove(before, move)).toEqual({ champion: '2', rollback: '1' });
  });

  it('promote of the first champion sets no rollback', () => {
    expect(applyMove({ candidate: '1' }, planPromote('m', state({ candidate: '1' })))).toEqual({ champion: '1' });
  });

  it('promote --version keeps an unrelated candidate', () => {
    expect(applyMove({ champion: '1', candidate: '2' }, planPromote('m', state({ champion: '1', candidate: '2' }), '3'))).toEqual({
      champion: '3',
      rollback: '1',
      candidate: '2',
    });
  });

  it('refuses moves that cannot be made, naming the model', () => {
    expect(() => planPromote('site.ppe', state({ champion: '1' }))).toThrow('site.ppe has no candidate to promote; give --version');
    expect(() => planPromote('site.ppe', state({}), '9')).toThrow('site.ppe has no version 9');
    expect(() => planPromote('site.ppe', state({ champion: '2', candidate: '2' }))).toThrow('site.ppe version 2 is already the champion');
    expect(() => planRollback('site.ppe', state({ champion: '2' }))).toThrow('site.ppe has no rollback version to go back to');
  });

  it('rollback: rollback → champion, demoted champion → candidate', () => {
    const before = { champion: '2', rollback: '1' };
    expect(applyMove(before, planRollback('m', state(before)))).toEqual({ champion: '1', candidate: '2' });
  });

  it('a soak rolls back only its own promotion: refused when another version has become champion since', () => {
    const before = { champion: '3', rollback: '2' };
    expect(() => planRollback('m', state(before), '2')).toThrow('m: the champion is v3, not v2; not rolling back a version this move did not promote');
    expect(applyMove(before, planRollback('m', state(before), '3'))).toEqual({ champion: '2', candidate: '3' });
  });
});
