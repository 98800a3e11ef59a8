export { singleRun } from './single-run';
export { registryMove } from './registry-move';
export { pipeline } from './pipeline';
export { sweep } from './sweep';
export { comparison } from './comparison';
export { optimizer } from './optimizer';
export { optimizerAction } from './optimizer-action';
export { guardedPromotion } from './guarded-promotion';
