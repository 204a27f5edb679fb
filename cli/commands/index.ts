import type { CommandSpec } from '../args';
import { approve, reject } from './decide';
import { endpoint } from './endpoint';
import { freeze, unfreeze } from './freeze';
import { health } from './health';
import { history } from './history';
import { models } from './models';
import { promote } from './promote';
import { promotions } from './promotions';
import { retrain } from './retrain';
import { retrainings } from './retrainings';
import { retry } from './retry';
import { rollback } from './rollback';
import { abort, pause, promoteNow, resume } from './rollout';
import { show } from './show';

/** Every command, in the order `champion --help` lists them. (`demo` is dispatched separately by main.) */
export const COMMANDS: readonly CommandSpec[] = [
  promotions,
  show,
  models,
  endpoint,
  approve,
  reject,
  promote,
  retry,
  pause,
  resume,
  promoteNow,
  abort,
  rollback,
  freeze,
  unfreeze,
  history,
  retrainings,
  retrain,
  health,
];
