/**
 * RabbitMQ or Redis could not be reached at start-up. The message names which one and where,
 * with the password masked; the service prints it and exits instead of a stack trace (whose
 * error object could carry connection details).
 */
export class ConnectError extends Error {
  override name = "ConnectError";
}
