import type { ReactNode } from 'react';

/** The dashboard's list table: one header cell per column, an unlabelled Actions column if asked, then the rows. */
export function DataTable({
  columns,
  actions = false,
  caption,
  describedBy,
  children,
}: {
  columns: string[];
  actions?: boolean;
  caption?: string;
  describedBy?: string;
  children: ReactNode;
}) {
  return (
    <div className="table-wrap">
      <table className="table" aria-describedby={describedBy}>
        {caption ? <caption className="visually-hidden">{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
            {actions ? (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
