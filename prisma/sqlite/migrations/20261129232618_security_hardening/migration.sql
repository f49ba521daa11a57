-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Client" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "secretDigest" TEXT,
    "grants" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "redirectUris" TEXT NOT NULL DEFAULT '',
    "origins" TEXT NOT NULL DEFAULT '',
    "tokenFormat" TEXT NOT NULL DEFAULT 'opaque',
    "accessTtl" INTEGER NOT NULL DEFAULT 300,
    "refreshTtl" INTEGER NOT NULL DEFAULT 86400,
    "maxSession" INTEGER NOT NULL DEFAULT 2592000,
    "audience" TEXT,
    "canIntrospect" BOOLEAN NOT NULL DEFAULT false,
    "browser" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_Client" ("accessTtl", "audience", "browser", "canIntrospect", "createdAt", "grants", "id", "name", "redirectUris", "refreshTtl", "scopes", "secretDigest", "tokenFormat") SELECT "accessTtl", "audience", "browser", "canIntrospect", "createdAt", "grants", "id", "name", "redirectUris", "refreshTtl", "scopes", "secretDigest", "tokenFormat" FROM "Client";
DROP TABLE "Client";
ALTER TABLE "new_Client" RENAME TO "Client";
CREATE TABLE "new_LoginThrottle" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "attempts" INTEGER NOT NULL,
    "windowStart" DATETIME NOT NULL
);
-- Edited by hand: the failure count carries over as the attempt count.
INSERT INTO "new_LoginThrottle" ("key", "attempts", "windowStart") SELECT "key", "failures", "windowStart" FROM "LoginThrottle";
DROP TABLE "LoginThrottle";
ALTER TABLE "new_LoginThrottle" RENAME TO "LoginThrottle";
CREATE INDEX "LoginThrottle_windowStart_idx" ON "LoginThrottle"("windowStart");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
