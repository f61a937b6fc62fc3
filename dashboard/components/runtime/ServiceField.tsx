'use client';
/** A labelled service picker with an "All services" choice (empty value), used by the tab's filter bars. */
export function ServiceField({
  id,
  label,
  value,
  services,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  services: string[];
  onChange: (service: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} className="select" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">All services</option>
        {services.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </div>
  );
}
