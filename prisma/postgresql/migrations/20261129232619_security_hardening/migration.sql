-- AlterTable
ALTER TABLE "Client" ADD COLUMN     "maxSession" INTEGER NOT NULL DEFAULT 2592000,
ADD COLUMN     "origins" TEXT NOT NULL DEFAULT '';

-- AlterTable
-- The failure count becomes the attempt count (failures and checks in progress), edited by hand
-- from Prisma's drop-and-add so that a live window survives the upgrade.
ALTER TABLE "LoginThrottle" DROP COLUMN "blockedUntil";
ALTER TABLE "LoginThrottle" RENAME COLUMN "failures" TO "attempts";
