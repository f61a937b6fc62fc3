export { type Api, buildApi } from './app.js';
export { type Clock, type Deps, systemClock } from './core/types.js';
