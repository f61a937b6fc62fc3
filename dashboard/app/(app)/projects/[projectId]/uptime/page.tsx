import { redirect } from 'next/navigation';

/** `/projects/<id>/uptime` (a link trimmed by hand): the project's Uptime tab. */
export default async function UptimeIndex({ params }: { params: Promise<{ projectId: string }> }) {
  const { projectId } = await params;
  redirect(`/projects/${encodeURIComponent(projectId)}#uptime`);
}
