import type { Metadata } from 'next';
import { ProjectView } from '@/components/project/ProjectView';

export const metadata: Metadata = { title: 'Project' };

export default function ProjectPage() {
  return <ProjectView />;
}
