import { redirect } from 'next/navigation';

/** `/projects/<id>/uptime/incidents`: the incidents list of the Uptime tab. */
export default async function IncidentsIndex({ params }: { params: Promise<{ projectId: string }> }) {
  const { projectId } = await params;
  redirect(`/projects/${encodeURIComponent(projectId)}?view=incidents#uptime`);
}
