import type { Metadata } from 'next';
import { IncidentView } from '@/components/uptime/IncidentView';

export const metadata: Metadata = { title: 'Incident' };

export default function IncidentPage() {
  return <IncidentView />;
}
