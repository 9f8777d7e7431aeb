/**
 * The files that travel with the notebook (the plan's `files`): paths, folders and globs
 * relative to the notebook, one a row. The server checks each row (the path gate, the size
 * limits) and, for a target that ships files, warns of a file the notebook names but does
 * not ship: there the notebook runs in a folder holding only what is shipped.
 */
import * as React from 'react';

import { PlanModel } from '../planModel';

export function FilesForm(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const files = model.form.files;
  const errors = model.fieldErrors;
  const set = (index: number, value: string) =>
    model.setFiles(files.map((file, i) => (i === index ? value : file)));
  const remove = (index: number) =>
    model.setFiles(files.filter((_, i) => i !== index));
  const warnings = model.warnings.filter(
    w => w.field === 'files' || w.field.startsWith('files.')
  );
  return (
    <section className="jp-mvdp-section jp-mvdp-files" aria-label="Files">
      <h3>Files</h3>
      <p className="jp-mvdp-hint">
        What the notebook reads, relative to it: a file, a folder or a glob such
        as <code>data/*.csv</code>. It is shipped next to the notebook where the
        points run.
      </p>
      <ul className="jp-mvdp-fileList">
        {files.map((file, i) => (
          <li key={i}>
            <div className="jp-mvdp-fileRow">
              <input
                className="jp-mvdp-fileInput"
                aria-label={`file ${i + 1}`}
                placeholder="datasets/train.csv"
                value={file}
                onChange={e => set(i, e.target.value)}
              />
              <button
                className="jp-mvdp-button"
                aria-label={`remove file ${i + 1}`}
                title="Do not ship it"
                onClick={() => remove(i)}
              >
                ×
              </button>
            </div>
            {errors[`files.${i}`] && (
              <div className="jp-mvdp-error">{errors[`files.${i}`]}</div>
            )}
          </li>
        ))}
      </ul>
      <button
        className="jp-mvdp-button jp-mvdp-addFile"
        onClick={() => model.setFiles([...files, ''])}
      >
        Add a file
      </button>
      {errors.files && <div className="jp-mvdp-error">{errors.files}</div>}
      {warnings.map(w => (
        <div className="jp-mvdp-warning" role="status" key={w.message}>
          {w.message}
        </div>
      ))}
    </section>
  );
}
