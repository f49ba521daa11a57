/*
  Warnings:

  - A unique constraint covering the columns `[importedFrom]` on the table `User` will be added. If there are existing duplicate values, this will fail.

*/
-- AlterTable
ALTER TABLE "User" ADD COLUMN "importedFrom" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "User_importedFrom_key" ON "User"("importedFrom");
