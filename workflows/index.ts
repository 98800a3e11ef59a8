export { singleRun } from './single-run';
export { registryMove } from './registry-move';
export { pipeline } from './pipeline';
export { sweep } from './sweep';
export { comparison } from './comparison';
export { optimizer } from './optimizer';
