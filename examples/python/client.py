#!/usr/bin/env python3
"""A small command-line client for batch-gpt, written with the official `openai` package.

    python client.py --api chat_completions --content "Say this is a test"
    python client.py --api status_single_batch --batch_id batch_abc123
    python client.py --api status_all_batches [--status_filter completed|not_completed]
    python client.py --api cancel_batch --batch_id batch_abc123

Options: --base-url (default http://localhost:8080/v1), --model (default gpt-4o-mini),
--timeout seconds (default 3600: a sync answer waits for its batch). The key comes from
OPENAI_API_KEY; the gateway holds the real one, so any value works until client keys arrive.
"""

import argparse
import os
import sys
from datetime import datetime, timezone

import openai
from openai import OpenAI


def when(timestamp):
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def chat_completions(client, args):
    completion = client.chat.completions.create(
        model=args.model, messages=[{"role": "user", "content": args.content}]
    )
    print(f"ID: {completion.id}")
    print(f"Model: {completion.model}")
    for choice in completion.choices:
        print(f"Choice {choice.index}:")
        print(f"  Role: {choice.message.role}")
        print(f"  Content: {choice.message.content}")
        print(f"  Finish reason: {choice.finish_reason}")
    if completion.usage:
        print("Usage:")
        print(f"  Prompt tokens: {completion.usage.prompt_tokens}")
        print(f"  Completion tokens: {completion.usage.completion_tokens}")
        print(f"  Total tokens: {completion.usage.total_tokens}")


def show_batch(batch):
    counts = batch.request_counts
    print(f"Batch ID: {batch.id}")
    print(f"  Status: {batch.status}")
    print(f"  Created: {when(batch.created_at)}")
    print(f"  Expires: {when(batch.expires_at)}")
    if counts:
        print(f"  Requests: total {counts.total}, completed {counts.completed}, failed {counts.failed}")


def status_single_batch(client, args):
    show_batch(client.batches.retrieve(require_batch_id(args)))


def status_all_batches(client, args):
    query = {"status": args.status_filter} if args.status_filter else None
    count = 0
    # The SDK pages through the whole list (limit per page, `after` cursor) and stops at the end.
    for batch in client.batches.list(limit=100, extra_query=query):
        show_batch(batch)
        count += 1
    label = f" ({args.status_filter})" if args.status_filter else ""
    print(f"{count} batch(es){label}")


def cancel_batch(client, args):
    batch = client.batches.cancel(require_batch_id(args))
    print(f"Cancel requested for {batch.id}: status {batch.status}")


def require_batch_id(args):
    if not args.batch_id:
        sys.exit("--batch_id is required for this --api")
    return args.batch_id


APIS = {
    "chat_completions": chat_completions,
    "status_single_batch": status_single_batch,
    "status_all_batches": status_all_batches,
    "cancel_batch": cancel_batch,
}


def main():
    parser = argparse.ArgumentParser(description="batch-gpt example client")
    parser.add_argument("--api", required=True, choices=sorted(APIS))
    parser.add_argument("--content", default="Say this is a test")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--batch_id")
    parser.add_argument("--status_filter", choices=["completed", "not_completed"])
    parser.add_argument("--base-url", default="http://localhost:8080/v1")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    client = OpenAI(
        api_key=os.environ.get("OPENAI_API_KEY") or "batch-gpt",
        base_url=args.base_url,
        timeout=args.timeout,
    )
    try:
        APIS[args.api](client, args)
    except openai.APIStatusError as e:
        print(f"Error {e.status_code} ({type(e).__name__}): {e.message}", file=sys.stderr)
        sys.exit(1)
    except openai.APIConnectionError as e:
        print(f"Could not reach {args.base_url}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
