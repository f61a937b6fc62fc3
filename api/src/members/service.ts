/** Project membership rules: who may grant which role, and a project always keeps an owner. */
import { AppError, type Db } from '@peep/pkg';
import type { Member, Project, Role } from '@peep/pkg/schemas';
import { usersRepo } from '../auth/repo.js';
import { membersRepo } from '../projects/repo.js';

export function createMemberService(deps: { db: Db }) {
  const { db } = deps;

  function assertMayGrant(actorRole: Role, role: Role) {
    if (role === 'owner' && actorRole !== 'owner')
      throw new AppError('forbidden', 'Only an owner can grant or change the owner role.');
  }

  return {
    list: (project: Project) => membersRepo.list(db, project.id),

    async add(project: Project, input: { email: string; role: Role }): Promise<Member> {
      assertMayGrant(project.role, input.role);
      const user = await usersRepo.byEmail(db, input.email);
      if (!user)
        throw new AppError(
          'user_not_found',
          `No user has the email ${input.email}. An instance admin can invite them first.`,
        );
      if (!(await membersRepo.insert(db, project.id, user.id, input.role)))
        throw new AppError('member_exists');
      return (await membersRepo.get(db, project.id, user.id)) as Member;
    },

    async setRole(project: Project, userId: string, role: Role): Promise<Member> {
      return db.transaction(async (tx) => {
        const m = await membersRepo.get(tx, project.id, userId);
        if (!m) throw new AppError('member_not_found');
        if (m.role === 'owner' || role === 'owner') assertMayGrant(project.role, 'owner');
        if (m.role === 'owner' && role !== 'owner') {
          const owners = await membersRepo.lockOwners(tx, project.id);
          if (owners.length <= 1) throw new AppError('last_owner');
        }
        await membersRepo.setRole(tx, project.id, userId, role);
        return { ...m, role };
      });
    },

    async remove(project: Project, actorId: string, userId: string): Promise<void> {
      await db.transaction(async (tx) => {
        const m = await membersRepo.get(tx, project.id, userId);
        if (!m) throw new AppError('member_not_found');
        const self = userId === actorId;
        if (!self && project.role !== 'owner' && project.role !== 'admin') {
          throw new AppError('forbidden', 'Only admins and owners can remove other members.');
        }
        if (!self && m.role === 'owner') assertMayGrant(project.role, 'owner');
        if (m.role === 'owner') {
          const owners = await membersRepo.lockOwners(tx, project.id);
          if (owners.length <= 1) throw new AppError('last_owner');
        }
        await membersRepo.delete(tx, project.id, userId);
      });
    },
  };
}
