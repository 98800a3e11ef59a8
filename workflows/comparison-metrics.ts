/**
 * The quantization comparison of docs/architecture.md §5: an exported model against its original on the
 * same data. Pure: the workflow computes it from the two benchmarks' metrics.
 */
export function comparisonMetrics(orig: Record<string, number>, quant: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  if (orig['det.mAP50'] !== undefined && quant['det.mAP50'] !== undefined) out['comparison.accuracy_drop_mAP50'] = orig['det.mAP50'] - quant['det.mAP50'];
  if (orig['det.mAP50_95'] !== undefined && quant['det.mAP50_95'] !== undefined) out['comparison.accuracy_drop_mAP50_95'] = orig['det.mAP50_95'] - quant['det.mAP50_95'];
  if (orig['sys.latency_ms'] && quant['sys.latency_ms']) out['comparison.speedup_ratio'] = orig['sys.latency_ms'] / quant['sys.latency_ms'];
  if (orig['sys.model_size_mb'] && quant['sys.model_size_mb']) out['comparison.compression_ratio'] = orig['sys.model_size_mb'] / quant['sys.model_size_mb'];
  return out;
}

/** Every metric under a prefix: `det.mAP50` → `orig.det.mAP50`. */
export function prefixMetrics(prefix: string, metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`${prefix}.${k}`, v]));
}
