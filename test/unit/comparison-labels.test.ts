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

describe('comparison label candidates', () => {
  const RUN = '0123456789abcdef0123456789abcdef';
  const TWIN = '01234567ffffffffffffffffffffffff';

  it('drops .pt, .yaml and .yml from file names, and empty path segments', () => {
    expect(modelLabels(['/a/best.pt', '/b/cfg.yaml', 'c/set.yml', 'd/model.onnx', '//e//x.yaml.pt'])).toEqual(['best', 'cfg', 'set', 'model.onnx', 'x.yaml']);
    expect(modelLabels(['/a/x.pt', '/b/x.pt'])).toEqual(['a/x', 'b/x']);
    expect(modelLabels(['/x.pt', 'x.pt'])).toEqual(['/x.pt', 'x.pt']);
  });

  it('a run reference grows within the run, then shows the whole run id', () => {
    expect(modelLabels([`runs:/${RUN}/weights/best.pt`, `runs:/${RUN}/other/best.pt`])).toEqual([`run 01234567/weights/best`, `run 01234567/other/best`]);
    expect(modelLabels([`runs:/${RUN}/weights/best.pt`, `runs:/${TWIN}/weights/best.pt`])).toEqual([`run ${RUN}/weights/best.pt`, `run ${TWIN}/weights/best.pt`]);
  });

  it('a registered model is labelled by its name and alias or version; a reference it cannot parse, as given', () => {
    expect(modelLabels(['models:/m@champion', 'models:/m/3', 'models:/m@'])).toEqual(['m@champion', 'm/3', 'm@']);
    expect(modelLabels(['models:/m@', 'x/m@'])).toEqual(['m@', 'x/m@']);
    expect(modelLabels(['s3://b/models:/x.pt'])).toEqual(['s3://b/models:/x.pt']);
  });

  it('a local path that nothing shorter tells apart ends as the path itself', () => {
    expect(modelLabels(['a/b.pt', 'a/b.yaml'])).toEqual(['a/b.pt', 'a/b.yaml']);
  });

  it('datasets: the version, then the folders above a data.yaml (its own name dropped), then the path', () => {
    expect(datasetLabels([{ path: '/d/x/data.yaml', version: 'v1' }, { path: '/d/y/data.yaml', version: 'v1' }])).toEqual(['v1 (x)', 'v1 (y)']);
    expect(datasetLabels([{ path: '/d/x/coco.yaml', version: 'v1' }, { path: '/d/x/voc.yml', version: 'v1' }])).toEqual(['v1 (coco)', 'v1 (voc)']);
    expect(datasetLabels([{ path: 'data.yaml', version: 'v1' }, { path: 'sets/data.yaml', version: 'v1' }])).toEqual(['v1 (data)', 'v1 (sets)']);
    expect(datasetLabels([{ path: '/a/s/data.yaml', version: 'v1' }, { path: '/b/s/data.yaml', version: 'v1' }])).toEqual(['v1 (a/s)', 'v1 (b/s)']);
    expect(datasetLabels([{ path: 'x/data.yaml', version: 'v1' }, { path: 'x/data.yml', version: 'v1' }])).toEqual(['v1 (x/data.yaml)', 'v1 (x/data.yml)']);
  });

  it('a label grows only while it is shared with another', () => {
    expect(distinctLabels([['a', 'x/a', 'y/x/a'], ['a', 'z/a', 'y/z/a'], ['b']])).toEqual(['x/a', 'z/a', 'b']);
    expect(distinctLabels([])).toEqual([]);
    expect(distinctLabels([['only', 'longer']])).toEqual(['only']);
  });
});
