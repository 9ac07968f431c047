"""Calls the gateway with the official Python `openai` SDK, unchanged, and prints what it saw as JSON.

Driven by test/sdk-python.test.ts, which asserts on the output:

    python sdk_checks.py <check> <tag> [args...]

The gateway's address comes from OPENAI_BASE_URL, as for any user of the SDK. `tag` makes prompts
unique to one run. A check that meets an unexpected error exits non-zero with the traceback.
"""

import base64
import json
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import openai
from openai import OpenAI

client = OpenAI(api_key="sk-python", max_retries=0, timeout=120)


def user(content):
    return [{"role": "user", "content": content}]


def error_of(call):
    """Runs `call`, which must fail with an API error, and describes the error."""
    try:
        call()
    except openai.APIStatusError as e:
        return {
            "class": type(e).__name__,
            "status": e.status_code,
            "code": e.code,
            "param": e.param,
            "message": e.message,
            "request_id": e.request_id,
            "should_retry": e.response.headers.get("x-should-retry"),
        }
    raise AssertionError("expected the call to fail")


def check_chat(tag):
    prompt = f"python chat {tag}"
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=user(prompt))
    plain = raw.parse()
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=user(prompt),
        stream=True,
        stream_options={"include_usage": True},
    )
    text, roles, finishes, usage = "", [], [], None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.delta.role:
                roles.append(choice.delta.role)
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
        if chunk.usage:
            usage = chunk.usage.model_dump()
    return {
        "content": plain.choices[0].message.content,
        "finish_reason": plain.choices[0].finish_reason,
        "usage": plain.usage.model_dump(),
        "request_id": raw.headers.get("x-request-id"),
        "cache": raw.headers.get("x-batch-cache"),
        "streamed": {"content": text, "roles": roles, "finishes": finishes, "usage": usage},
    }


def check_embeddings(tag):
    inputs = [f"python embed a {tag}", f"python embed b {tag}"]
    model = "text-embedding-3-small"
    as_float = client.embeddings.create(model=model, input=inputs, encoding_format="float")
    # Without encoding_format the SDK asks for base64 and decodes it into floats itself.
    as_default = client.embeddings.create(model=model, input=inputs)
    as_base64 = client.embeddings.create(model=model, input=inputs, encoding_format="base64")
    decoded = []
    for item in as_base64.data:
        raw = base64.b64decode(item.embedding)
        decoded.append(list(struct.unpack(f"<{len(raw) // 4}f", raw)))
    return {
        "float": [d.embedding for d in as_float.data],
        "default": [list(d.embedding) for d in as_default.data],
        "base64_decoded": decoded,
        "base64_is_text": all(isinstance(d.embedding, str) for d in as_base64.data),
        "prompt_tokens": as_float.usage.prompt_tokens,
    }


def check_completions(tag):
    prompt = f"python complete {tag}"
    plain = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompt)
    text = ""
    for chunk in client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompt, stream=True):
        for choice in chunk.choices:
            text += choice.text
    return {"object": plain.object, "text": plain.choices[0].text, "streamed": text}


def check_responses(tag):
    prompt = f"python respond {tag}"
    plain = client.responses.create(model="gpt-4o-mini", input=prompt)
    types, deltas, completed_id = [], "", None
    for event in client.responses.create(model="gpt-4o-mini", input=prompt, stream=True):
        types.append(event.type)
        if event.type == "response.output_text.delta":
            deltas += event.delta
        if event.type == "response.completed":
            completed_id = event.response.id
    with client.responses.stream(model="gpt-4o-mini", input=prompt) as stream:
        final = stream.get_final_response()
    return {
        "output_text": plain.output_text,
        "id": plain.id,
        "types": types,
        "streamed": deltas,
        "completed_id": completed_id,
        "helper_output_text": final.output_text,
    }


ASYNC = {"x-batch-mode": "async"}


def until(fetch, ready, seconds=30):
    deadline = time.time() + seconds
    while True:
        got = fetch()
        if ready(got):
            return got
        if time.time() > deadline:
            raise AssertionError("no answer in time")
        time.sleep(0.2)


def check_async(tag):
    prompt = f"python async {tag}"
    # Per call with extra_headers, or for every call with default_headers.
    placeholder = client.chat.completions.create(
        model="gpt-4o-mini", messages=user(prompt), extra_headers={"x-batch-mode": "async"}
    )
    async_client = OpenAI(api_key="sk-python", max_retries=0, default_headers={"x-batch-mode": "async"})
    other = async_client.chat.completions.create(model="gpt-4o-mini", messages=user(f"{prompt} again"))
    answers = []
    for call in (placeholder, other):
        deadline = time.time() + 30
        while True:
            got = client.chat.completions.retrieve(call.id)
            if got.choices:
                answers.append(got.choices[0].message.content)
                break
            if time.time() > deadline:
                raise AssertionError(f"no answer for {call.id}")
            time.sleep(0.2)
    # Responses have a retrieve method; embeddings and completions are fetched with the generic get.
    resp = client.responses.create(model="gpt-4o-mini", input=f"{prompt} resp", extra_headers=ASYNC)
    emb = client.embeddings.create(
        model="text-embedding-3-small", input=f"{prompt} emb", encoding_format="float", extra_headers=ASYNC
    )
    response = until(lambda: client.responses.retrieve(resp.id), lambda r: r.status == "completed")
    embedding = until(lambda: client.get(f"/embeddings/{emb.id}", cast_to=object), lambda e: bool(e.get("data")))
    return {
        "response_text": response.output_text,
        "embedding_length": len(embedding["data"][0]["embedding"]),
        "ids": [placeholder.id, other.id],
        "status": getattr(placeholder, "status", None),
        "answers": answers,
        "stream_refused": error_of(
            lambda: client.chat.completions.create(
                model="gpt-4o-mini",
                messages=user(prompt),
                stream=True,
                extra_headers={"x-batch-mode": "async"},
            )
        ),
    }


def check_errors(tag):
    def ask(content, **extra):
        return lambda: client.chat.completions.create(model="gpt-4o-mini", messages=user(content), **extra)

    def streamed(content):
        def call():
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=user(content), stream=True):
                pass

        return call

    return {
        "bad_request": error_of(lambda: client.chat.completions.create(model="gpt-4o-mini", messages=[])),
        "line_400": error_of(ask(f"python {tag} [[fail:400]]")),
        "not_found": error_of(lambda: client.chat.completions.retrieve("chatcmpl-missing")),
        "no_route": error_of(lambda: client.models.list()),
        "batch_not_found": error_of(lambda: client.batches.retrieve("batch_missing")),
        "too_large": error_of(ask("x" * 70_000)),
        "rate_limited": error_of(ask(f"python {tag} [[fail:429]]")),
        "server_error": error_of(ask(f"python {tag} [[fail:500]]")),
        "server_error_streamed": error_of(streamed(f"python {tag} [[fail:500]]")),
        "limit_out_of_range": error_of(lambda: client.batches.list(limit=500)),
    }


def check_batches(tag):
    models = ["gpt-4o-mini", "gpt-4.1-nano", "gpt-4.1-mini"]
    with ThreadPoolExecutor(len(models)) as pool:
        answers = list(
            pool.map(
                lambda m: client.chat.completions.create(model=m, messages=user(f"python batch {m} {tag}")),
                models,
            )
        )
    listed = [b.id for b in client.batches.list(limit=2)]
    created = [b.created_at for b in client.batches.list(limit=2)]
    first = client.batches.retrieve(listed[0])
    completed = [b.status for b in client.batches.list(limit=100, extra_query={"status": "completed"})]
    return {
        "answers": [a.choices[0].message.content for a in answers],
        "listed": listed,
        "created_at": created,
        "first": first.model_dump(),
        "completed_statuses": completed,
        "cancel_finished": error_of(lambda: client.batches.cancel(listed[0])),
    }


def check_hold(tag):
    """A caller held in sync mode (its batch gets cancelled meanwhile)."""
    prompt = tag
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=user(prompt))
    return {"content": completion.choices[0].message.content}


CHECKS = {name[len("check_") :]: fn for name, fn in globals().items() if name.startswith("check_")}

if __name__ == "__main__":
    check, run_tag = sys.argv[1], sys.argv[2]
    print(json.dumps(CHECKS[check](run_tag)))
