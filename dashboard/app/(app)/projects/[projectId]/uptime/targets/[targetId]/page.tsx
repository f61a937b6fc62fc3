import type { Metadata } from 'next';
import { TargetView } from '@/components/uptime/TargetView';

export const metadata: Metadata = { title: 'Uptime target' };

export default function TargetPage() {
  return <TargetView />;
}
