/**
 * A window on a run's points as the server sorts and filters them (GET runs/<id>/points):
 * pages are fetched when rows come into view, kept, and fetched again after the run changed,
 * so a leaderboard of 10,000 points holds only the pages looked at. No DOM: unit tested.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { api, IPageQuery, IPoint, IPointsPage, PointState } from './api';

/** What the window shows: one sort and one filter; pages are cut from it. */
export interface IWindowQuery {
  sort: string;
  order: 'asc' | 'desc';
  state: PointState[];
}

export type FetchPage = (
  runId: string,
  query: IPageQuery
) => Promise<IPointsPage>;

export class PointsWindow {
  constructor(
    readonly runId: string,
    readonly query: IWindowQuery,
    options: { pageSize?: number; fetch?: FetchPage } = {}
  ) {
    this.pageSize = options.pageSize ?? 100;
    this._fetch = options.fetch ?? api.points;
  }

  readonly pageSize: number;

  /** How many points the query has; null until a page arrived. */
  get total(): number | null {
    return this._total;
  }

  /** A page arrived (rows to render). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The point at row ``index``, when its page is loaded. */
  rowAt(index: number): IPoint | undefined {
    return this._pages.get(Math.floor(index / this.pageSize))?.[
      index % this.pageSize
    ];
  }

  /**
   * Rows already in hand (the run document's first page, the whole of a normal run): the
   * window starts from them, without a request.
   */
  seed(points: IPoint[], total: number): void {
    this._total = total;
    this._pages.clear();
    this._stale.clear();
    for (let i = 0; i * this.pageSize < points.length; i++) {
      this._pages.set(
        i,
        points.slice(i * this.pageSize, (i + 1) * this.pageSize)
      );
    }
    this._changed.emit();
  }

  /** Load the pages rows ``start`` to ``end`` (exclusive) are on, unless loaded and fresh. */
  async ensure(start: number, end: number): Promise<void> {
    const first = Math.max(0, Math.floor(start / this.pageSize));
    const last = Math.max(first, Math.floor((end - 1) / this.pageSize));
    const wanted: Promise<void>[] = [];
    for (let page = first; page <= last; page++) {
      if (this._total !== null && page * this.pageSize >= this._total) {
        break;
      }
      if (!this._pages.has(page) || this._stale.has(page)) {
        wanted.push(this._load(page));
      }
    }
    await Promise.all(wanted);
  }

  /**
   * The run changed: every page is fetched again when next in view (rows keep showing the
   * old values meanwhile, so scrolling never blanks).
   */
  invalidate(): void {
    this._generation++;
    for (const page of this._pages.keys()) {
      this._stale.add(page);
    }
    this._inflight.clear();
  }

  /** Requests made so far (tests and the benchmark count them). */
  get requests(): number {
    return this._requests;
  }

  dispose(): void {
    this._disposed = true;
    Signal.clearData(this);
  }

  private _load(page: number): Promise<void> {
    const known = this._inflight.get(page);
    if (known) {
      return known;
    }
    const generation = this._generation;
    this._requests++;
    const request = this._fetch(this.runId, {
      ...this.query,
      offset: page * this.pageSize,
      limit: this.pageSize
    })
      .then(found => {
        if (this._disposed || generation !== this._generation) {
          return; // an answer to a question no longer asked
        }
        this._total = found.total;
        this._pages.set(page, found.points);
        this._stale.delete(page);
        this._changed.emit();
      })
      .finally(() => {
        if (this._inflight.get(page) === request) {
          this._inflight.delete(page);
        }
      });
    this._inflight.set(page, request);
    return request;
  }

  private _fetch: FetchPage;
  private _total: number | null = null;
  private _pages = new Map<number, IPoint[]>();
  private _stale = new Set<number>();
  private _inflight = new Map<number, Promise<void>>();
  private _generation = 0;
  private _requests = 0;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}
