/**
 * The CLI's name and version (kept equal to package.json's by a test).
 *
 * @module
 */

/** The version `mandate --version` prints. */
export const VERSION = '0.1.0'
