-- AlterTable
ALTER TABLE "Client" ADD COLUMN "jwks" TEXT;
ALTER TABLE "Client" ADD COLUMN "jwksUri" TEXT;

-- CreateTable
CREATE TABLE "UsedAssertion" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "expiresAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Revocation" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "jti" TEXT,
    "sid" TEXT,
    "sub" TEXT,
    "clientId" TEXT,
    "kid" TEXT,
    "at" DATETIME NOT NULL,
    "exp" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "UsedAssertion_expiresAt_idx" ON "UsedAssertion"("expiresAt");

-- CreateIndex
CREATE INDEX "Revocation_exp_idx" ON "Revocation"("exp");
