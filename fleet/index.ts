/**
 * The fleet read model over MLflow (docs/architecture.md §4): records, the cached store, and the
 * queries the CLI, the HTTP server and the optimizer share. Queries are pure functions of a
 * snapshot (`FleetStore.refresh()` or `.cached()`), so every caller answers the same numbers.
 */
export * from './records';
export { FleetStore, fleetCacheFile, openFleetStore, type FleetSource, type FleetStoreOptions, type RefreshResult } from './store';
export { DAY_MS, matches, siteTasks, versionSummaries, type FleetFilter, type ModelSummary, type SiteTask } from './select';
export { summary, type SummaryOptions, type SummaryRow } from './summary';
export { trend, trendByDay, type TrendDay, type TrendOptions, type TrendPoint } from './trend';
export { comparison, CompareBy, type ComparisonOptions, type ComparisonRow } from './comparison';
export { alerts, AlertRule, type Alert, type AlertOptions } from './alerts';
export { AlertRulesFileError, AlertRulesFileSchema, DEFAULT_RULES, loadAlertRules, NO_RULES_FILE, parseAlertRules, rulesFor, Severity, type AlertRulesFile, type SiteRules } from './alert-rules';
export { EXPORT_BASENAME, ExportFormat, exportFleet } from './export';
