/**
 * Notification channel routes (docs/notifications.md, docs/api.md). Admins and owners manage
 * channels; developers may list them (URLs masked), read their delivery logs and send a test.
 */

import type { Config } from '@peep/pkg';
import { parseNetPolicy } from '@peep/pkg/net-policy';
import type { MasterKeys } from '@peep/pkg/project-keys';
import { ProjectParams, type Static } from '@peep/pkg/schemas';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { baseUrl, errorResponses, noStore } from '../core/http.js';
import type { Deps } from '../core/types.js';
import type { ProjectService } from '../projects/service.js';
import {
  ChannelList,
  ChannelParams,
  ChannelResponse,
  ChannelWithSecret,
  CreateChannelRequest,
  DeliveriesQuery,
  DeliveryList,
  DeliveryLog,
  RotateSecretResponse,
  UpdateChannelRequest,
} from './schemas.js';
import { type ChannelService, createChannelService, type TEST_DELIVERY } from './service.js';

const P = '/api/v1/projects/:projectId/channels';
const C = `${P}/:channelId`;
const tags = ['channels'];

/** The channels domain, wired from the app's dependencies. */
export function registerChannels(
  app: FastifyInstance,
  deps: Deps & { projects: ProjectService; keys: MasterKeys; testDelivery?: Partial<typeof TEST_DELIVERY> },
): ChannelService {
  const channels = createChannelService({ ...deps, netPolicy: parseNetPolicy(deps.config.webhookDeny) });
  registerChannelRoutes(app, { config: deps.config, projects: deps.projects, channels });
  return channels;
}

type ProjectReq = FastifyRequest<{ Params: Static<typeof ProjectParams> }>;
type ChannelReq = FastifyRequest<{ Params: Static<typeof ChannelParams> }>;

export function registerChannelRoutes(
  app: FastifyInstance,
  deps: { config: Config; projects: ProjectService; channels: ChannelService },
) {
  const { config, projects, channels } = deps;
  const developer = (req: ProjectReq | ChannelReq) =>
    projects.access(currentAuth(req).user.id, req.params.projectId, 'developer');
  const admin = (req: ProjectReq | ChannelReq) =>
    projects.access(currentAuth(req).user.id, req.params.projectId, 'admin');
  const target = (req: ChannelReq) => {
    req.audit = { ...req.audit, targetType: 'channel', targetId: req.params.channelId };
  };

  app.get<{ Params: Static<typeof ProjectParams> }>(
    P,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Channels by name (URLs masked, secrets never shown)',
        params: ProjectParams,
        response: { 200: ChannelList, ...errorResponses },
      },
    },
    async (req) => ({ channels: await channels.list(await developer(req)) }),
  );

  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof CreateChannelRequest> }>(
    P,
    {
      config: { auth: 'user', audit: 'channel.create' },
      schema: {
        tags,
        summary: 'Create a channel (a generated webhook signing secret is answered once)',
        params: ProjectParams,
        body: CreateChannelRequest,
        response: { 201: ChannelWithSecret, ...errorResponses },
      },
    },
    async (req, reply) => {
      const me = currentAuth(req).user.id;
      const out = await channels.create(await admin(req), me, req.body);
      req.audit = { ...req.audit, targetType: 'channel', targetId: out.channel.id };
      noStore(reply);
      return reply.code(201).send(out);
    },
  );

  app.get<{ Params: Static<typeof ChannelParams> }>(
    C,
    {
      config: { auth: 'user' },
      schema: { tags, params: ChannelParams, response: { 200: ChannelResponse, ...errorResponses } },
    },
    async (req) => ({ channel: await channels.get(await developer(req), req.params.channelId) }),
  );

  app.patch<{ Params: Static<typeof ChannelParams>; Body: Static<typeof UpdateChannelRequest> }>(
    C,
    {
      config: { auth: 'user', audit: 'channel.update' },
      schema: {
        tags,
        summary: 'Change a channel (a secret generated for a channel becoming a webhook is answered once)',
        params: ChannelParams,
        body: UpdateChannelRequest,
        response: { 200: ChannelWithSecret, ...errorResponses },
      },
    },
    async (req, reply) => {
      target(req);
      noStore(reply);
      return channels.update(await admin(req), req.params.channelId, req.body);
    },
  );

  app.delete<{ Params: Static<typeof ChannelParams> }>(
    C,
    {
      config: { auth: 'user', audit: 'channel.delete' },
      schema: { tags, params: ChannelParams, response: { 204: { type: 'null' }, ...errorResponses } },
    },
    async (req, reply) => {
      target(req);
      await channels.remove(await admin(req), req.params.channelId);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: Static<typeof ChannelParams> }>(
    `${C}/rotate-secret`,
    {
      config: { auth: 'user', audit: 'channel.rotate_secret' },
      schema: {
        tags,
        summary: 'New webhook signing secret, answered once; the old one also signs for 24 h',
        params: ChannelParams,
        response: { 200: RotateSecretResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      target(req);
      noStore(reply);
      return channels.rotateSecret(await admin(req), req.params.channelId);
    },
  );

  app.post<{ Params: Static<typeof ChannelParams> }>(
    `${C}/test`,
    {
      config: { auth: 'user', audit: 'channel.test' },
      schema: {
        tags,
        summary:
          'Send an example message now; answers the delivery log (also kept in the channel’s deliveries)',
        params: ChannelParams,
        response: { 200: DeliveryLog, ...errorResponses },
      },
    },
    async (req) => {
      target(req);
      const project = await developer(req);
      return channels.test(project, req.params.channelId, `${baseUrl(req, config)}/projects/${project.id}`);
    },
  );

  app.get<{ Params: Static<typeof ChannelParams>; Querystring: Static<typeof DeliveriesQuery> }>(
    `${C}/deliveries`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'The channel’s deliveries, newest first, with every attempt',
        params: ChannelParams,
        querystring: DeliveriesQuery,
        response: { 200: DeliveryList, ...errorResponses },
      },
    },
    async (req) => channels.deliveries(await developer(req), req.params.channelId, req.query),
  );
}
