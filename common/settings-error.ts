/** An environment variable (or a configuration file it names) that cannot be used; the message names it. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/**
 * Set but empty is refused rather than read as unset: `GF_STATE_DIR=""` would otherwise mean the
 * current directory, and an empty address or bucket fails far from here.
 */
export function refuseBlank(key: string, raw: string | undefined): void {
  if (raw !== undefined && raw.trim() === '') throw new SettingsError(`${key} is set but empty: unset it to use the default, or give it a value`);
}
