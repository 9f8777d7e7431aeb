/**
 * The panel's action bar, kept in view at the bottom of the sidebar: the number of points
 * (or "invalid"), Productionize, and why it cannot be pressed yet. Pressing it while the
 * plan has errors shows every field's error and moves the focus to the first one.
 */
import * as React from 'react';

import { PlanModel } from '../planModel';
import { pointCountText, whyNotReady } from '../readiness';

export function ActionBar(props: {
  model: PlanModel;
  onSubmitted: (runId: string) => void;
}): JSX.Element {
  const { model } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  const errors = model.fieldErrors;
  const size = model.built?.size ?? model.validation?.size ?? null;
  const limit = model.validation?.limit ?? null;
  const count = pointCountText(size, limit, errors);
  const why = whyNotReady({
    hasNotebook: !!model.parameters,
    busy: model.busy,
    localErrors: model.built?.errors ?? {},
    validation: model.validation,
    kind: model.form.strategy.kind
  });
  const ready = why === null && model.valid;
  const submit = async () => {
    if (!ready) {
      model.reveal();
      // once the errors are drawn: the first invalid field takes the focus
      requestAnimationFrame(() => {
        const panel = ref.current?.closest('.jp-mvdp-body');
        const first = panel?.querySelector<HTMLElement>(
          '[aria-invalid="true"]'
        );
        first?.focus();
      });
      return;
    }
    const runId = await model.productionize();
    if (runId) {
      props.onSubmitted(runId);
    }
  };
  return (
    <div className="jp-mvdp-actionBar" ref={ref} aria-label="Productionize">
      <div className="jp-mvdp-actionRow">
        <span
          className={
            count.includes('invalid') || count.includes('above')
              ? 'jp-mvdp-size jp-mvdp-error'
              : 'jp-mvdp-size'
          }
          aria-live="polite"
        >
          {count}
        </span>
        <button
          className="jp-mvdp-button jp-mvdp-productionize"
          disabled={model.busy}
          aria-disabled={!ready || undefined}
          aria-describedby={why ? 'jp-mvdp-why' : undefined}
          onClick={submit}
        >
          {model.busy ? 'Productionizing…' : 'Productionize'}
        </button>
      </div>
      {why && !model.busy && (
        <div className="jp-mvdp-why" id="jp-mvdp-why">
          {why}
        </div>
      )}
      {model.submitError && (
        <div className="jp-mvdp-error jp-mvdp-submitError" role="alert">
          {model.submitError}
        </div>
      )}
    </div>
  );
}
