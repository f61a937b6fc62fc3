import type { Metadata } from 'next';
import { Suspense } from 'react';
import { DeviceView } from './DeviceView';

export const metadata: Metadata = { title: 'Device login' };

export default function DevicePage() {
  return (
    <Suspense fallback={null}>
      <DeviceView />
    </Suspense>
  );
}
