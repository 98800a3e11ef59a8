/**
 * File globs of experiments.yaml (`patterns`, `collect.globs`): `*` and `?` within a name, `**` across
 * folders. A glob without `/` matches a file's name wherever it is (`*.pt` finds
 * `runs/detect/train/weights/best.pt`); one with `/` matches the path from the folder.
 */
export function globMatcher(globs: string[]): (relativePath: string) => boolean {
  const tests = globs.map((glob) => {
    const re = globToRegExp(glob);
    return glob.includes('/') ? (rel: string) => re.test(rel) : (rel: string) => re.test(rel.slice(rel.lastIndexOf('/') + 1));
  });
  return (rel) => tests.some((t) => t(rel));
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      out += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'u');
}
