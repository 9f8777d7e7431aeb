/**
 * The plan's `notify` in words for the panel: who hears of what, through which Airflow
 * connection (jupyter_mvdp/core/notify.py holds the rules; defaults as its
 * DEFAULT_CONNECTION).
 */
import { IPlan } from './api';

export type NotifyChannel = NonNullable<IPlan['notify']>[number];

const DEFAULT_CONNECTION = {
  email: 'smtp_default',
  slack: 'slack_default',
  webhook: 'http_default'
};

/** "email to ops@example.com on canary alert, run failed (smtp_default)". */
export function notifyLabel(channel: NotifyChannel): string {
  const events = channel.on.map(e => e.replace(/_/g, ' ')).join(', ');
  let who: string;
  let connection: string | undefined;
  if (channel.channel === 'email') {
    who = `email to ${channel.to.join(', ')}`;
    connection = channel.smtp_conn_id;
  } else if (channel.channel === 'slack') {
    who = 'Slack';
    connection = channel.slack_webhook_conn_id;
  } else {
    who = `webhook ${channel.endpoint ?? ''}`.trim();
    connection = channel.http_conn_id;
  }
  return `${who} on ${events} (${connection ?? DEFAULT_CONNECTION[channel.channel]})`;
}
