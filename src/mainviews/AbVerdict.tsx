/**
 * An A/B test in the run view: the verdict in words, both variants' distributions (a box
 * per variant, every run drawn over it) and the mean difference with its interval.
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import * as React from 'react';

import { IRun } from '../api';
import {
  abRows,
  differenceSpec,
  distributionSpec,
  verdictWords
} from '../abView';
import { themedSpec, useThemeColors } from '../plotTheme';
import { VegaLite } from './VegaLite';

export function AbVerdict(props: {
  run: IRun;
  rendermime: IRenderMimeRegistry;
}): JSX.Element | null {
  const { run } = props;
  const colors = useThemeColors();
  const ab = run.ab;
  if (!ab) {
    return null;
  }
  const metric = run.strategy.metric ?? '';
  const rows = abRows(ab, run.points, metric);
  const words = ab.verdict ? verdictWords(ab.verdict) : null;
  const difference = ab.verdict ? differenceSpec(ab.verdict) : null;
  const parameters = (side: 'a' | 'b') =>
    Object.entries(ab.variants[side].parameters ?? {})
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ') || 'the notebook defaults';
  return (
    <section className="jp-mvdp-ab" aria-label="A/B test">
      {words ? (
        <div
          className={`jp-mvdp-abVerdict jp-mvdp-abVerdict-${ab.verdict!.verdict.replace(/ /g, '-')}`}
          role="status"
        >
          <strong>{words.headline}</strong>
          <div className="jp-mvdp-muted">{words.detail}</div>
        </div>
      ) : (
        <div className="jp-mvdp-muted" role="status">
          The verdict comes once every pair has run.
        </div>
      )}
      <dl className="jp-mvdp-abVariants">
        <dt>A</dt>
        <dd>{parameters('a')}</dd>
        <dt>B</dt>
        <dd>{parameters('b')}</dd>
      </dl>
      {rows.length > 0 && (
        <VegaLite
          rendermime={props.rendermime}
          spec={themedSpec(distributionSpec(rows, metric), colors)}
        />
      )}
      {difference && (
        <VegaLite
          rendermime={props.rendermime}
          spec={themedSpec(difference, colors)}
        />
      )}
    </section>
  );
}
