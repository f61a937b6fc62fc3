import {
  AddMemberRequest,
  Member,
  MemberList,
  MemberParams,
  ProjectParams,
  type Static,
  UpdateMemberRequest,
} from '@peep/pkg/schemas';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { errorResponses } from '../core/http.js';
import type { ProjectService } from '../projects/service.js';
import type { createMemberService } from './service.js';

const P = '/api/v1/projects/:projectId/members';
const tags = ['members'];

export function registerMemberRoutes(
  app: FastifyInstance,
  deps: { projects: ProjectService; members: ReturnType<typeof createMemberService> },
) {
  const { projects, members } = deps;

  app.get<{ Params: Static<typeof ProjectParams> }>(
    P,
    {
      config: { auth: 'user' },
      schema: { tags, params: ProjectParams, response: { 200: MemberList, ...errorResponses } },
    },
    async (req) => ({
      members: await members.list(
        await projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer'),
      ),
    }),
  );

  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof AddMemberRequest> }>(
    P,
    {
      config: { auth: 'user', audit: 'member.add' },
      schema: {
        tags,
        params: ProjectParams,
        body: AddMemberRequest,
        response: { 201: Type.Object({ member: Member }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const project = await projects.access(currentAuth(req).user.id, req.params.projectId, 'admin');
      const member = await members.add(project, req.body);
      req.audit = { targetType: 'user', targetId: member.userId };
      return reply.code(201).send({ member });
    },
  );

  app.patch<{ Params: Static<typeof MemberParams>; Body: Static<typeof UpdateMemberRequest> }>(
    `${P}/:userId`,
    {
      config: { auth: 'user', audit: 'member.update' },
      schema: {
        tags,
        params: MemberParams,
        body: UpdateMemberRequest,
        response: { 200: Type.Object({ member: Member }), ...errorResponses },
      },
    },
    async (req) => {
      req.audit = { targetType: 'user', targetId: req.params.userId };
      const project = await projects.access(currentAuth(req).user.id, req.params.projectId, 'admin');
      return { member: await members.setRole(project, req.params.userId, req.body.role) };
    },
  );

  app.delete<{ Params: Static<typeof MemberParams> }>(
    `${P}/:userId`,
    {
      config: { auth: 'user', audit: 'member.remove' },
      schema: { tags, params: MemberParams, response: { 204: { type: 'null' }, ...errorResponses } },
    },
    async (req, reply) => {
      req.audit = { targetType: 'user', targetId: req.params.userId };
      const me = currentAuth(req).user.id;
      const project = await projects.access(me, req.params.projectId, 'viewer');
      await members.remove(project, me, req.params.userId);
      return reply.code(204).send();
    },
  );
}
