/**
 * How the authorship checks end early: a {@link CheckFailure} is thrown inside a check and turned into a
 * refused verdict by its entry point (`checkUpdate`, `checkMerge`).
 */

/** Why an update was refused: it breaks a rule, cannot be read as Yjs would, or needs data the relay lacks. */
export type FailureCode = "authorship" | "bad-frame" | "resync";

/** Thrown inside a check to end it with a refusal. */
export class CheckFailure extends Error {
  constructor(
    readonly code: FailureCode,
    readonly reason: string,
  ) {
    super(reason);
    this.name = "CheckFailure";
  }
}

/** Ends the check: the update breaks an authorship or layout rule. */
export const refuse = (reason: string): never => {
  throw new CheckFailure("authorship", reason);
};
/** Ends the check: the update is not what Yjs would read. */
export const badFrame = (reason: string): never => {
  throw new CheckFailure("bad-frame", reason);
};
/** Ends the check: the update depends on data the document does not have. */
export const resync = (reason: string): never => {
  throw new CheckFailure("resync", reason);
};
