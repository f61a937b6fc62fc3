import type { Metadata } from 'next';
import { Suspense } from 'react';
import { SetupForm } from './SetupForm';

export const metadata: Metadata = { title: 'Set up your account' };

export default function SetupPage() {
  return (
    <Suspense fallback={<h1>Set up your account</h1>}>
      <SetupForm />
    </Suspense>
  );
}
