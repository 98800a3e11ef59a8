export { singleRun } from './single-run';
