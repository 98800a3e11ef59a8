/** A port a dev server needs is taken by a process `gflow dev` did not start. */
export class PortInUseError extends Error {
  constructor(
    readonly server: string,
    readonly port: number,
    readonly setting: string,
    options?: { cause?: unknown },
  ) {
    super(`${server}: port ${port} is already in use by another process; stop it or choose another port with ${setting}`, options);
    this.name = 'PortInUseError';
  }
}

/** A dev server exited or did not become healthy in time; the message carries its log's tail. */
export class ServerStartError extends Error {
  constructor(
    readonly server: string,
    readonly logFile: string,
    reason: string,
    logTail: string,
    options?: { cause?: unknown },
  ) {
    super(`${server} failed to start: ${reason}\n  log: ${logFile}${logTail ? `\n  last lines:\n    ${logTail.split('\n').join('\n    ')}` : ''}`, options);
    this.name = 'ServerStartError';
  }
}

/** A server binary is not installed (setup has not run, or the venv is broken). */
export class ServerMissingError extends Error {
  constructor(
    readonly server: string,
    readonly binary: string,
    options?: { cause?: unknown },
  ) {
    super(`${server}: ${binary} not found; run the set-up first: npm run setup`, options);
    this.name = 'ServerMissingError';
  }
}
