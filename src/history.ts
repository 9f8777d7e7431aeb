/**
 * A pipeline over time, for people: who started a run (the words `jupyter mvdp status`
 * prints: jupyter_mvdp/cli/printing.py STARTED_BY) and each champion's time in office.
 */
import { IChampion, IStartedBy } from './api';

export const STARTED_BY: { [kind: string]: string } = {
  mvdp: 'jupyter-mvdp',
  schedule: 'schedule',
  ui: 'Airflow UI',
  api: 'Airflow API',
  cli: 'Airflow CLI',
  asset: 'asset event',
  backfill: 'backfill',
  operator: 'another DAG',
  other: 'Airflow'
};

/** "schedule", "Airflow UI (ann)", "jupyter-mvdp (bob)". */
export function startedByLabel(by: IStartedBy | undefined | null): string {
  const kind = by?.kind ?? 'mvdp';
  const label = STARTED_BY[kind] ?? kind;
  return by?.user && kind !== 'schedule' ? `${label} (${by.user})` : label;
}

/** Was the run started somewhere else than here (its schedule, Airflow's UI or API)? */
export function startedElsewhere(by: IStartedBy | undefined | null): boolean {
  return !!by && by.kind !== 'mvdp';
}

export interface IChampionPeriod extends IChampion {
  /** when the next champion replaced it (null: the champion now) */
  until: number | null;
}

/** The champions, newest first, each with when it was replaced. */
export function championPeriods(champions: IChampion[]): IChampionPeriod[] {
  return champions.map((c, i) => ({
    ...c,
    until: i === 0 ? null : champions[i - 1].at
  }));
}

/** A moment as the lab shows it: the date and time in the user's locale. */
export function when(at: number | null): string {
  return at ? new Date(at * 1000).toLocaleString() : '';
}
