/**
 * What the panel says about each strategy field: its label, one line of help and its unit.
 * The schema (planRules.ts) says what a field accepts; this says what it means to a user.
 * Labels never reuse a section's name ("target" is the Target section: early stopping's
 * `target` reads "stop at"). A strategy added to the schema without an entry here still
 * gets a label (its key) and the schema's description as help.
 */
import { StrategyKey, StrategyKind, strategyOption } from './planRules';

export interface IFieldHelp {
  label: string;
  help: string;
  /** What the number or text is measured in; `metric` stands for the chosen metric. */
  unit?: string;
}

/** Shown for every kind unless the kind has its own entry below. */
const COMMON: { [key: string]: IFieldHelp } = {
  metric: {
    label: 'metric',
    help: 'The number each point records (scrapbook glue) that ranks the points.',
    unit: 'a recorded metric name'
  },
  goal: {
    label: 'goal',
    help: 'Whether a higher or a lower metric is better.'
  }
};

const BY_KIND: { [kind: string]: { [key: string]: IFieldHelp } } = {
  early_stop: {
    target: {
      label: 'stop at',
      help: 'Stop after the round in which a point reaches this metric value.',
      unit: 'metric'
    },
    budget: {
      label: 'budget',
      help: 'Run at most this many points (in a random order), then stop.',
      unit: 'points'
    },
    seed: {
      label: 'seed',
      help: 'Seed of the random order of the points: the same seed, the same order.',
      unit: 'whole number'
    }
  },
  optimize: {
    budget: {
      label: 'budget',
      help: 'Points run in all, in rounds of the parallelism.',
      unit: 'points'
    },
    target: {
      label: 'stop at',
      help: 'Stop after the round in which a point reaches this metric value.',
      unit: 'metric'
    },
    seed: {
      label: 'seed',
      help: "Seed of Optuna's sampler: the same seed asks the same points.",
      unit: 'whole number'
    },
    sampler: {
      label: 'sampler',
      help: "Optuna's sampler: tpe (Bayesian, the default) or random search."
    }
  },
  canary: {
    baseline: {
      label: 'baseline',
      help: "Metric value to beat; empty: the pipeline's last champion.",
      unit: 'metric'
    },
    tolerance: {
      label: 'tolerance',
      help: 'How much worse than the baseline the candidate may be and still deploy.',
      unit: 'metric'
    },
    deploy_notebook: {
      label: 'deploy notebook',
      help: 'Notebook run with the winning parameters when the candidate deploys.',
      unit: 'path relative to this notebook'
    }
  },
  ab: {
    a: { label: 'variant A', help: "A's parameter values, or the champion's." },
    b: { label: 'variant B', help: "B's parameter values." },
    replicate: {
      label: 'replicate parameter',
      help: 'Takes 0, 1, 2 … for both variants (a seed, a fold), so runs pair up.',
      unit: 'a parameter name'
    },
    replicates: {
      label: 'replicates',
      help: 'Runs of each variant: the pairs the test compares.',
      unit: 'pairs'
    },
    alpha: {
      label: 'alpha',
      help: 'Significance level of the paired test: the false-positive rate it allows.'
    },
    deploy_notebook: {
      label: 'deploy notebook',
      help: "Notebook run with B's parameters when B is promoted.",
      unit: 'path relative to this notebook'
    }
  }
};

/** The label, help and unit of one strategy field; `metric` in the unit is the chosen one. */
export function strategyFieldHelp(
  kind: StrategyKind,
  key: StrategyKey,
  metric?: string | null
): IFieldHelp {
  const known = BY_KIND[kind]?.[key] ?? COMMON[key];
  const found: IFieldHelp = known ?? {
    label: key.replace(/_/g, ' '),
    help: strategyOption(kind, key).description ?? ''
  };
  if (found.unit === 'metric') {
    return {
      ...found,
      unit: metric ? `${metric} units` : 'units of the metric'
    };
  }
  return found;
}

/** The text shown after a field's label: "(points)", or nothing without a unit. */
export const unitText = (unit?: string): string => (unit ? `(${unit})` : '');
