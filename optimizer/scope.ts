import type { Scope } from './policy-schema';

/**
 * Whether a site task is in a rule's scope. Pure (the optimizer workflow calls it): the site glob
 * is turned into a RegExp here because Node's `path.matchesGlob` is a built-in (and experimental
 * on Node 20) and no glob library is a direct dependency. `*` and `?` match inside one part of
 * `{customer}/{region}-{plant}/{zone}`, `**` across parts.
 */
export function inScope(scope: Scope, target: { site: { customer: string }; siteKey: string; task: string }): boolean {
  return (
    (scope.customer === undefined || scope.customer === target.site.customer) &&
    (scope.task === undefined || scope.task === target.task) &&
    (scope.site === undefined || globRegExp(scope.site).test(target.siteKey))
  );
}

/** `acme/*-p1/**` → /^acme/[^/]*-p1/.*$/; the schema allows only letters, digits, `_ - / * ?`, so nothing else needs escaping. */
export function globRegExp(glob: string): RegExp {
  const body = glob
    .split('**')
    .map((part) => part.replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
    .join('.*');
  return new RegExp(`^${body}$`);
}
