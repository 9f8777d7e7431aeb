/**
 * The metric a strategy ranks by, as an explicit choice: the metrics earlier runs of the
 * notebook recorded are offered (a click picks one), nothing is pre-filled, and the panel
 * says what happens while none is chosen (a grid without a metric ranks nothing).
 */
import * as React from 'react';

import { strategyFieldHelp } from '../fieldHelp';
import { StrategyKind } from '../planRules';
import { Field } from './Field';

export function MetricField(props: {
  kind: StrategyKind;
  value: string | undefined;
  /** Metrics earlier runs of this notebook recorded. */
  known: string[];
  required: boolean;
  error?: string | null;
  onChange: (metric: string | undefined) => void;
}): JSX.Element {
  const { label, help } = strategyFieldHelp(props.kind, 'metric');
  const value = props.value ?? '';
  const offered = props.known.filter(m => m !== value);
  return (
    <div className="jp-mvdp-metricField">
      <Field label={label} help={help} error={props.error}>
        {control => (
          <input
            {...control}
            aria-label={label}
            list="jp-mvdp-metrics"
            value={value}
            onChange={e => props.onChange(e.target.value || undefined)}
          />
        )}
      </Field>
      <datalist id="jp-mvdp-metrics">
        {props.known.map(m => (
          <option key={m} value={m} />
        ))}
      </datalist>
      {!value && (
        <div className="jp-mvdp-metricStatus" role="status">
          {props.required
            ? 'No metric chosen: this strategy needs one.'
            : 'No metric chosen: the points will not be ranked and no point will be the best.'}
        </div>
      )}
      <div className="jp-mvdp-metricChoices">
        {props.known.length === 0 ? (
          <span className="jp-mvdp-help">
            No earlier run of this notebook recorded a metric.
          </span>
        ) : (
          offered.length > 0 && (
            <>
              <span className="jp-mvdp-help">Recorded by earlier runs:</span>
              {offered.map(m => (
                <button
                  key={m}
                  type="button"
                  className="jp-mvdp-button jp-mvdp-chip"
                  title={`Rank the points by ${m}`}
                  onClick={() => props.onChange(m)}
                >
                  {m}
                </button>
              ))}
            </>
          )
        )}
      </div>
    </div>
  );
}
