-- AlterTable
ALTER TABLE "Client" ADD COLUMN     "jwks" TEXT,
ADD COLUMN     "jwksUri" TEXT;

-- CreateTable
CREATE TABLE "UsedAssertion" (
    "key" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "UsedAssertion_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "Revocation" (
    "id" SERIAL NOT NULL,
    "jti" TEXT,
    "sid" TEXT,
    "sub" TEXT,
    "clientId" TEXT,
    "kid" TEXT,
    "at" TIMESTAMP(3) NOT NULL,
    "exp" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Revocation_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "UsedAssertion_expiresAt_idx" ON "UsedAssertion"("expiresAt");

-- CreateIndex
CREATE INDEX "Revocation_exp_idx" ON "Revocation"("exp");
