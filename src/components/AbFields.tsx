/**
 * The A/B test's own fields in the strategy form: variant A's and variant B's values side by
 * side, one row per notebook parameter (empty: the notebook's default, or the grid's fixed
 * value), A as the pipeline's champion, and whether a better B is promoted. The replicate
 * parameter, replicates, alpha and deploy notebook are the form's generic fields; the server
 * checks the variants (core/abtest.py) and its errors are shown here, by their row.
 */
import * as React from 'react';

import { IParameter } from '../api';
import { StrategyKey } from '../planRules';
import { PlanModel } from '../planModel';
import { parseValue } from '../values';

/** The strategy keys this component edits (the generic fields leave them out). */
export const AB_OWN_KEYS: StrategyKey[] = ['a', 'b', 'promote'];

/** The variant value A takes to be the pipeline's current champion. */
export const CHAMPION = 'champion';

type Side = 'a' | 'b';
type Values = { [name: string]: any };

/** A value as Python writes it (the notebook's language): True, None, 'text', 0.1. */
function pythonText(value: any): string {
  if (value === true || value === false) {
    return value ? 'True' : 'False';
  }
  return value === null ? 'None' : JSON.stringify(value);
}

function textsOf(strategy: { a?: any; b?: any }): { [key: string]: string } {
  const texts: { [key: string]: string } = {};
  for (const side of ['a', 'b'] as Side[]) {
    const values = strategy[side];
    if (values && typeof values === 'object') {
      for (const [name, value] of Object.entries(values)) {
        texts[`${side}.${name}`] = pythonText(value);
      }
    }
  }
  return texts;
}

export function AbFields(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const strategy = model.form.strategy;
  const [texts, setTexts] = React.useState(() => textsOf(strategy));
  const [typos, setTypos] = React.useState<{ [key: string]: string }>({});
  const champion = strategy.a === CHAMPION;
  const parameters = (model.parameters ?? []).filter(
    p => p.name !== strategy.replicate
  );
  const server = model.fieldErrors;

  const valuesOf = (side: Side, from = texts): Values => {
    const values: Values = {};
    for (const p of parameters) {
      const text = from[`${side}.${p.name}`]?.trim();
      if (text) {
        const parsed = parseValue(text, p.type);
        if (parsed.error === undefined) {
          values[p.name] = parsed.value;
        }
      }
    }
    return values;
  };

  const edit = (side: Side, p: IParameter, text: string) => {
    const key = `${side}.${p.name}`;
    const next = { ...texts, [key]: text };
    setTexts(next);
    const parsed = text.trim() ? parseValue(text, p.type) : null;
    setTypos({ ...typos, [key]: parsed?.error ?? '' });
    model.setStrategy(side, valuesOf(side, next));
  };

  const cell = (side: Side, p: IParameter) => {
    const key = `${side}.${p.name}`;
    const error = typos[key] || server[`strategy.${key}`];
    return (
      <td>
        <input
          aria-label={`${side.toUpperCase()} ${p.name}`}
          aria-invalid={error ? true : undefined}
          title={error || undefined}
          placeholder={p.default}
          disabled={side === 'a' && champion}
          value={texts[key] ?? ''}
          onChange={e => edit(side, p, e.target.value)}
        />
      </td>
    );
  };

  const messages: [string, string][] = Object.entries(server).filter(([f]) =>
    /^strategy\.(a|b|promote)\b/.test(f)
  );
  for (const [key, message] of Object.entries(typos)) {
    if (message && !server[`strategy.${key}`]) {
      messages.push([`strategy.${key}`, message]);
    }
  }
  return (
    <div className="jp-mvdp-abFields" aria-label="A/B variants">
      <label className="jp-mvdp-check">
        <input
          type="checkbox"
          checked={champion}
          onChange={e =>
            model.setStrategy('a', e.target.checked ? CHAMPION : valuesOf('a'))
          }
        />
        A is the pipeline&apos;s current champion
      </label>
      <table className="jp-mvdp-abTable">
        <thead>
          <tr>
            <th>parameter</th>
            <th>A</th>
            <th>B</th>
          </tr>
        </thead>
        <tbody>
          {parameters.map(p => (
            <tr key={p.name}>
              <th scope="row" title={p.help || p.type}>
                {p.name}
              </th>
              {cell('a', p)}
              {cell('b', p)}
            </tr>
          ))}
        </tbody>
      </table>
      <div className="jp-mvdp-muted">
        Empty: the notebook&apos;s default (or the grid&apos;s fixed value).
        Replicate i of A and of B run with the same{' '}
        {strategy.replicate || 'replicate'} = i, so the results pair up.
      </div>
      <label className="jp-mvdp-check">
        <input
          type="checkbox"
          checked={!!strategy.promote}
          onChange={e => model.setStrategy('promote', e.target.checked)}
        />
        Promote B when it is better (it becomes the champion; the deploy
        notebook runs with its parameters)
      </label>
      {messages.map(([field, message]) => (
        <div key={field} className="jp-mvdp-error" role="alert">
          {field.replace(/^strategy\./, '')}: {message}
        </div>
      ))}
    </div>
  );
}
