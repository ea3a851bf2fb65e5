// The error an adapter throws for a channel notification it will not believe (forged, replayed, probe,
// undecryptable, for another account); the route answers with the channel's failure reply and changes nothing.

export class NotificationRejected extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message)
    this.name = 'NotificationRejected'
  }
}
