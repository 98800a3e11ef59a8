import { datasetLabels, distinctLabels, modelLabels } from '../../workflows/comparison-labels';

/** Issue 16, defect 7: arms of a comparison never share a label, so the heat map keeps every cell. */

describe('comparison labels', () => {
  it('two …/weights/best.pt models × two datasets labelled v1 give a 2×2 map', () => {
    const models = modelLabels(['/runs/site_a/weights/best.pt', '/runs/site_b/weights/best.pt']);
    const datasets = datasetLabels([
      { path: '/data/site_a/data.yaml', version: 'v1' },
      { path: '/data/site_b/data.yaml', version: 'v1' },
    ]);
    expect(models).toEqual(['site_a/weights/best', 'site_b/weights/best']);
    expect(datasets).toEqual(['v1 (site_a)', 'v1 (site_b)']);
    const cells = new Set(models.flatMap((m) => datasets.map((d) => `${m} × ${d}`)));
    expect(cells.size).toBe(4);
  });

  it('keeps the short labels when they are distinct already', () => {
    expect(modelLabels(['models:/c.r-p.z.ppe@champion', 'runs:/0123456789abcdef0123456789abcdef/weights/last.pt', '/m/best.pt'])).toEqual(['c.r-p.z.ppe@champion', 'run 01234567/last', 'best']);
    expect(datasetLabels([{ path: '/a/data.yaml', version: 'site-a' }, { path: '/b/data.yaml', version: 'site-b' }])).toEqual(['site-a', 'site-b']);
    expect(modelLabels(['yolov8n.yaml', 'yolov8s.yaml'])).toEqual(['yolov8n', 'yolov8s']);
  });

  it('grows only the labels that are shared', () => {
    expect(modelLabels(['/x/a/weights/best.pt', '/x/b/weights/best.pt', '/x/c/other/best.pt', '/x/last.pt'])).toEqual(['a/weights/best', 'b/weights/best', 'other/best', 'last']);
    expect(modelLabels(['runs:/0123456789abcdef0123456789abcdef/a/best.pt', 'runs:/0123456789abcdef0123456789abcdef/b/best.pt'])).toEqual(['run 01234567/a/best', 'run 01234567/b/best']);
    expect(datasetLabels([{ path: '/a/data.yaml', version: 'v1' }, { path: '/b/data.yaml', version: 'v2' }, { path: '/c/data.yaml', version: 'v1' }])).toEqual(['v1 (a)', 'v2', 'v1 (c)']);
  });

  it('ends at the longest candidate when nothing shorter is distinct', () => {
    expect(distinctLabels([['x', 'p/x'], ['x', 'q/x'], ['y']])).toEqual(['p/x', 'q/x', 'y']);
    expect(distinctLabels([['x'], ['x']])).toEqual(['x', 'x']);
  });
});
