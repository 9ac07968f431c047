import { type Logger, reachedStep } from "@batch-gpt/config";
import {
  type CollateJob,
  collateQueue,
  errorAnswer,
  FORMAT_VERSION,
  fenceIds,
  lineId,
  newBatchRecordId,
  type StoredAnswer,
} from "@batch-gpt/contracts";
import type { OutcomeRecorder } from "@batch-gpt/pipeline";
import {
  type Admission,
  type JobRef,
  jobHandle,
  jobRef,
  type QueueRegistry,
  UnrecoverableError,
  type Worker,
} from "@batch-gpt/queue";
import type { Store } from "@batch-gpt/store";
import { bodyChars, collateJob, Group, groupKey, type HeldJob, type Limits } from "./groups.ts";
import { intern } from "./intern.ts";
import { Spool } from "./spool.ts";
import type { BatchSubmitter, HeldLines } from "./submitter.ts";

/** Non-blocking fetches in flight at once while jobs are waiting. */
const DRAIN_FETCHES = 16;

/** Jobs completed at once (each is a Redis round trip; a 50,000-line group goes in steps). */
const COMPLETE_CHUNK = 500;

/**
 * A gathering group's request records are written in chunks of this many while it still gathers, so
 * a flush writes only the last ones: on the embedded FerretDB (about 11,000 1 KB records a second),
 * writing a 50,000-line batch's records took 4.5 s after its flush.
 */
const EARLY_RECORD_CHUNK = 500;

/** How long the first to ask waits for the cache's oldest entry before going on without it (see below). */
const MARKER_CHECK_WAIT_MS = 1000;

export interface CollatorOptions {
  store: Store;
  queues: QueueRegistry;
  submitter: BatchSubmitter;
  /** Answers the callers of jobs that fail alone (refused, malformed, out of attempts). */
  outcomes: OutcomeRecorder;
  log: Logger;
  collatorId: string;
  limits: Limits;
  lockDurationMs?: number;
  /** Tries of a job whose group could not be recorded before its callers get an error. */
  maxAttempts?: number;
  /** CACHE_MARKER_TTL_SECONDS in ms: entries older than this may have lost their Redis marker. */
  markerTtlMs?: number;
  /** Told of the jobs it takes, so the gateways' admission control counts them out of the queue. */
  admission?: Admission;
  /**
   * COLLATOR_MAX_HELD_BYTES: request bodies held at most (in groups, and in flushes not yet recorded);
   * at the limit it flushes its largest group, and fetches again once there is room.
   */
  maxHeldBytes?: number;
  /** COLLATOR_MAX_FLUSHES: flushes under way at once (each holds its bodies until its upload is done). */
  maxFlushes?: number;
  /** Where gathering groups' spools (their batch files as they gather) go: BATCH_FILE_DIR, or the temp folder. */
  fileDir?: string | undefined;
}

/** What a flush started that may outlive it. */
interface Flush {
  ahead?: Promise<unknown>;
}

/**
 * Pulls request jobs itself (BullMQ's manual fetching: batching jobs is a paid BullMQ feature) and
 * gathers them into groups. Jobs stay locked while held, so a crash hands them to another collator
 * through BullMQ's stalled-job check; they are completed only once their lines are fenced into a
 * batch record in Mongo.
 */
export class Collator {
  readonly #o: CollatorOptions;
  readonly #worker: Worker<CollateJob>;
  readonly #groups = new Map<string, Group>();
  readonly #timers = new Map<Group, NodeJS.Timeout>();
  readonly #flushing = new Set<Promise<void>>();
  /** Every job fetched and not yet completed: their locks are extended until then. */
  readonly #held = new Set<HeldJob>();
  /**
   * The characters of the bodies `#held` still holds (what COLLATOR_MAX_HELD_BYTES bounds): not those
   * let go once their lines were spooled and their records stored.
   */
  #heldBytes = 0;
  /** Resolved (and replaced) whenever a flush ends or held jobs are let go: a full collator waits on it. */
  #roomMade = Promise.withResolvers<void>();
  /** Job ids taken since the last report to admission control (sent in one command). */
  #taken: string[] = [];
  readonly #lockMs: number;
  readonly #maxAttempts: number;
  /** Until then no cache entry can lack its marker (none is older than its life); Infinity: some may. */
  #markersHoldUntil = 0;
  #markersCheck: Promise<void> | null = null;
  /** The look-ups something already waited on (each is waited on once: see `#markersMayHaveLapsed`). */
  readonly #markersWaited = new WeakSet<Promise<void>>();
  #lockTimer: NodeJS.Timeout | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #tokens = 0;

  constructor(opts: CollatorOptions) {
    this.#o = opts;
    this.#lockMs = opts.lockDurationMs ?? 30_000;
    this.#maxAttempts = opts.maxAttempts ?? 8;
    this.#worker = opts.queues.worker(collateQueue, null, {
      lockMs: this.#lockMs,
      retryMs: opts.limits.windowMs,
    });
  }

  async start(): Promise<void> {
    this.#running = true;
    // Whether Redis's cache markers may have lapsed is asked here, before any flush (which waits only
    // for a look-up nobody waited on yet): on FerretDB v1 it scans and sorts the whole cache, 7 s with
    // 200,000 entries on an idle machine and longer under load, and a burst's flushes each waited on it.
    await this.#markersMayHaveLapsed();
    await this.#worker.startStalledCheckTimer();
    this.#lockTimer = setInterval(() => void this.#extendLocks(), Math.floor(this.#lockMs / 3));
    this.#loop = this.#fetchLoop();
  }

  /**
   * Waits for a job (one blocking fetch), then drains what else is waiting with several non-blocking
   * fetches in flight at once: one at a time, fetching is a Redis round trip per job.
   */
  async #fetchLoop(): Promise<void> {
    while (this.#running) {
      let got: boolean;
      try {
        await this.#room();
        if (!this.#running) return;
        got = await this.#fetchOne(true);
        while (got && this.#running && (await this.#room())) {
          const burst = await Promise.all(Array.from({ length: DRAIN_FETCHES }, () => this.#fetchOne(false)));
          got = burst.every(Boolean);
        }
      } catch (err) {
        if (!this.#running) return;
        this.#o.log.error({ err }, "fetching jobs failed");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * Waits until the collator may hold more: fewer bodies than COLLATOR_MAX_HELD_BYTES, fewer flushes than
   * COLLATOR_MAX_FLUSHES. At the first limit it flushes its largest group itself (if a flush may start);
   * otherwise the jobs wait in Redis. True once there is room, false when stopping.
   */
  async #room(): Promise<boolean> {
    const maxHeld = this.#o.maxHeldBytes ?? Number.POSITIVE_INFINITY;
    const maxFlushes = this.#o.maxFlushes ?? Number.POSITIVE_INFINITY;
    while (this.#running) {
      const full = this.#heldBytes >= maxHeld;
      if (!full && this.#flushing.size < maxFlushes) return true;
      const groups = [...this.#groups.values()];
      // Bodies of flushes still recording are let go when they are: wait for those before flushing more.
      const recording = this.#heldBytes - groups.reduce((sum, g) => sum + g.bodyChars, 0);
      if (full && recording <= 0 && this.#flushing.size < maxFlushes) {
        const largest = groups.sort((a, b) => b.bodyChars - a.bodyChars)[0];
        if (largest) {
          this.#flush(largest);
          continue;
        }
      }
      // A flush ending or jobs let go make room; the timeout only guards against a missed signal.
      await Promise.race([this.#roomMade.promise, new Promise((r) => setTimeout(r, 1000))]);
    }
    return false;
  }

  #madeRoom(): void {
    this.#roomMade.resolve();
    this.#roomMade = Promise.withResolvers<void>();
  }

  #hold(held: HeldJob): void {
    this.#held.add(held);
    this.#heldBytes += bodyChars(held);
  }

  /** Lets go of a held job; false when it was not held (any more). */
  #letGo(held: HeldJob): boolean {
    if (!this.#held.delete(held)) return false;
    this.#heldBytes -= bodyChars(held);
    this.#madeRoom();
    return true;
  }

  /** The characters of the bodies held (COLLATOR_MAX_HELD_BYTES bounds them). */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Tells admission control (in one command per burst of fetches) which jobs left the queue. */
  #reportTaken(jobId: string): void {
    const admission = this.#o.admission;
    if (!admission) return;
    this.#taken.push(jobId);
    if (this.#taken.length > 1) return;
    setImmediate(() => {
      const ids = this.#taken;
      this.#taken = [];
      // If it is lost, the reconcile drops their entries once their jobs are gone.
      admission.taken(ids).catch((err) => this.#o.log.warn({ err: String(err) }, "admission report failed"));
    });
  }

  /** Fetches one job into a group; false when there was none. */
  async #fetchOne(block: boolean): Promise<boolean> {
    const token = `${this.#o.collatorId}:${this.#tokens++}`;
    const job = await this.#worker.getNextJob(token, { block });
    if (!job) return false;
    if (job.id) this.#reportTaken(job.id);
    if (!this.#running) {
      // Fetched while closing, after the held groups were flushed: give it straight back.
      await job.moveToWait(token).catch(() => {});
      return false;
    }
    const parsed = collateQueue.schema.safeParse(job.data);
    if (!parsed.success) {
      this.#o.log.error({ jobId: job.id, issues: parsed.error.issues }, "malformed collate job dropped");
      // Its callers, if it names them, are told rather than left waiting.
      const { requestId, key } = (job.data ?? {}) as Partial<CollateJob>;
      const answer = errorAnswer(500, "The queued request was malformed and cannot be sent.", {
        type: "server_error",
        code: "malformed_job",
      });
      if (typeof requestId === "string" && typeof key === "string") {
        await this.#o.outcomes.answerUnbatched([{ requestId, key, answer }]).catch((err) => {
          this.#o.log.error({ err, jobId: job.id }, "could not answer a malformed job's callers");
        });
      }
      await job.moveToFailed(new UnrecoverableError("malformed collate job"), token, false).catch(() => {});
      return true;
    }
    reachedStep("collate.claimed");
    // The BullMQ job is let go here: a group holds its ref and payload only (see `jobRef`).
    const { body, ...data } = parsed.data;
    data.owner = intern(data.owner);
    data.provider = intern(data.provider);
    data.endpoint = intern(data.endpoint);
    data.model = intern(data.model);
    const ref = jobRef(job);
    ref.name = intern(ref.name);
    // A first attempt's job id is its request id: one string for both.
    if (ref.id === data.requestId) ref.id = data.requestId;
    const held: HeldJob = { job: ref, token, data, body, line: lineId(data.requestId, data.attempt) };
    this.#hold(held);
    this.#add(held);
    return true;
  }

  #add(held: HeldJob): void {
    // A job on its last try goes alone: if it is what broke its group's flush, it fails by itself.
    const last = held.job.attemptsMade + 1 >= this.#maxAttempts;
    const key = last ? `${groupKey(held.data)}|alone:${held.data.requestId}` : groupKey(held.data);
    let group = this.#groups.get(key);
    if (group && !group.fits(held, this.#o.limits)) {
      this.#flush(group);
      group = undefined;
    }
    if (!group) {
      group = new Group(key);
      group.spool = this.#openSpool(group);
      this.#groups.set(key, group);
      const current = group;
      this.#timers.set(
        current,
        setTimeout(() => this.#flush(current), this.#o.limits.windowMs),
      );
    }
    const replaced = group.add(held);
    // Its lock lapsed and it was fetched again: the old handle's token no longer holds the job (its
    // line, the same job's, is spooled already).
    if (replaced) this.#letGo(replaced);
    else if (held.body !== null) {
      const { requestId, endpoint } = held.data;
      group.spool?.append(held.line, { customId: requestId, endpoint, body: held.body });
    }
    if (group.full(this.#o.limits)) this.#flush(group);
    else if (group.unrecorded.length >= EARLY_RECORD_CHUNK) this.#recordEarly(group);
  }

  /**
   * Writes the request records of the jobs the group gathered since the last time, while it goes on
   * gathering. A record alone commits nothing: the batch is recorded, and its lines fenced, only when
   * the group is flushed, and a request written twice (its job fetched again after a crash) keeps its
   * first record. (A request the flush then answers from MongoDB's cache keeps its record, as one
   * answered by a batch does.) A chunk that fails is written again at flush.
   */
  #recordEarly(group: Group): void {
    const chunk = group.unrecorded;
    group.unrecorded = [];
    group.early = group.early.then(async () => {
      try {
        const refused = await this.#o.store.requests.ensure(chunk.map(collateJob));
        for (const held of chunk) group.recorded.add(held.data.requestId);
        for (const [id, reason] of refused) group.refused.set(id, reason);
        // Their lines are in the spool and their records in the store: the batch file needs no body of
        // theirs in memory any more.
        if (await group.spool?.written()) {
          for (const held of chunk) {
            if (refused.has(held.data.requestId) || !this.#held.has(held)) continue;
            this.#heldBytes -= group.release(held);
          }
          this.#madeRoom();
        }
      } catch (err) {
        this.#o.log.warn(
          { err: String(err), group: group.key },
          "request records not written early; at flush",
        );
      }
    });
  }

  /**
   * A new group's spool. Without one (the folder cannot be written) the group holds its bodies until its
   * flush, as it did before spools.
   */
  #openSpool(group: Group): Spool | null {
    try {
      return new Spool("spool", this.#o.fileDir);
    } catch (err) {
      this.#o.log.warn(
        { group: group.key, err: err instanceof Error ? err.message : String(err) },
        "no spool for the group; it holds its bodies until its flush",
      );
      return null;
    }
  }

  /**
   * Flushes the groups held for `model` (every group when null) now, without waiting for their window:
   * an operator's flush signal (`batch-gpt flush`). Returns how many groups it flushed.
   */
  flushNow(model: string | null): number {
    const groups = [...this.#groups.values()].filter(
      (g) => model === null || g.jobs[0]?.data.model === model,
    );
    for (const group of groups) this.#flush(group);
    return groups.length;
  }

  #flush(group: Group): void {
    if (this.#groups.get(group.key) === group) this.#groups.delete(group.key);
    clearTimeout(this.#timers.get(group));
    this.#timers.delete(group);
    if (group.jobs.length === 0) {
      void group.spool?.remove();
      return;
    }
    const work = this.#record(group)
      .catch(async (err) => {
        this.#o.log.error({ err, group: group.key }, "flush failed; jobs return to the queue");
        await this.#retryLater(group.jobs, err);
      })
      .finally(() => {
        this.#flushing.delete(work);
        this.#madeRoom();
      });
    this.#flushing.add(work);
  }

  /**
   * Records the batch and fences its lines before any job is completed:
   * request records → batch record (preparing) → line fences → completed jobs → create. The file is
   * uploaded meanwhile, from the start; the create waits for it and for the fences.
   */
  async #record(group: Group): Promise<void> {
    const flush: Flush = {};
    try {
      await this.#recordFlushed(group, flush);
    } finally {
      // The spool goes with its group, once nothing reads it any more: an upload ahead never rejects,
      // and one abandoned at shutdown (`advance` no longer waiting on it) ends once it is aborted.
      await flush.ahead;
      await group.spool?.remove();
    }
  }

  async #recordFlushed(group: Group, flush: Flush): Promise<void> {
    const { store, log, collatorId } = this.#o;
    const recordId = newBatchRecordId();
    log.info({ recordId, group: group.key, lines: group.jobs.length }, "batch flushing");
    await this.#answerFromCache(group);
    if (group.jobs.length === 0) return;
    // The file goes up while the requests are recorded and the lines fenced: the create still waits for
    // both (`advance` below), and uses this file only if the record ends up with exactly these lines.
    // It comes from the group's spool; the bodies still held serve only should the spool fail.
    const held: HeldLines = { spool: group.spool, bodies: new Map() };
    for (const job of group.jobs) if (job.body !== null) held.bodies.set(job.data.requestId, job.body);
    const ahead = this.#o.submitter.uploadAhead(
      {
        _id: recordId,
        endpoint: group.jobs[0]!.data.endpoint,
        lines: group.jobs.map((j) => j.line),
      },
      held,
    );
    flush.ahead = ahead;
    // The records written while the group gathered (`#recordEarly`) are not written again.
    await group.early;
    const refused = await store.requests.ensure(
      group.jobs.filter((j) => !group.recorded.has(j.data.requestId)).map(collateJob),
    );
    for (const [id, reason] of group.refused) if (!refused.has(id)) refused.set(id, reason);
    if (refused.size > 0) await this.#refuse(group, refused);
    const jobs = group.jobs;
    if (jobs.length === 0) return;
    const first = jobs[0]!.data;
    const lines = jobs.map((j) => j.line);
    const now = new Date();
    await store.batches.prepare({
      _id: recordId,
      v: FORMAT_VERSION,
      provider: first.provider,
      endpoint: first.endpoint,
      model: first.model,
      state: "preparing",
      lines,
      generation: 0,
      owner: collatorId,
      heartbeatAt: now,
      inputFileId: null,
      providerBatchId: null,
      providerBatch: null,
      status: null,
      history: [],
      createdAt: now,
      updatedAt: now,
    });
    const won = await store.fences.claimMany(lines.map(fenceIds.line), recordId);
    const mine = jobs.filter((j) => won.has(fenceIds.line(j.line)));
    if (mine.length !== jobs.length) {
      log.info(
        { recordId, dropped: jobs.length - mine.length },
        "lines already fenced into another batch record",
      );
      await store.batches.trimLines(
        recordId,
        mine.map((j) => j.line),
        0,
      );
    }
    // What the poller needs about each line, so settling the batch reads no request per line.
    await store.lines.write(
      recordId,
      mine.map(({ data }) => ({
        requestId: data.requestId,
        attempt: data.attempt,
        key: data.key,
        owner: data.owner,
      })),
    );
    reachedStep("collate.recorded");
    // The jobs are completed while the file is written and uploaded: their lines are fenced, so a job
    // handed on before it is completed (this collator dying) is dropped by its fence wherever it goes.
    // One after the other, completing a 50,000-line batch's jobs held its upload back a second or more.
    const completing = this.#complete(jobs).then(() => {
      log.info({ recordId, group: group.key, lines: mine.length }, "batch recorded");
      // Each request's step at debug level: a 50,000-line batch would be 50,000 lines at info.
      if (log.isLevelEnabled("debug")) {
        for (const { data } of mine) {
          log.debug(
            { requestId: data.requestId, attempt: data.attempt, traceId: data.traceId, recordId },
            "request collated",
          );
        }
      }
    });
    const submitting =
      mine.length === 0 ? Promise.resolve() : this.#o.submitter.advance(recordId, 0, held, undefined, ahead);
    // A failed upload is thrown once every job is completed (or let go), never while some still are.
    const [, submitted] = await Promise.allSettled([completing, submitting]);
    if (submitted.status === "rejected") throw submitted.reason;
  }

  async #complete(jobs: HeldJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += COMPLETE_CHUNK) {
      const chunk = jobs.slice(i, i + COMPLETE_CHUNK);
      await Promise.all(
        chunk.map(({ job, token }) =>
          this.#handle(job)
            .moveToCompleted(null, token, false)
            .catch((err) => {
              this.#o.log.warn(
                { err: String(err), jobId: job.id },
                "could not complete job (its line is fenced anyway)",
              );
            }),
        ),
      );
      for (const held of chunk) this.#letGo(held);
    }
  }

  /**
   * Requests whose answer MongoDB's cache holds although Redis's marker said nothing (it expired):
   * answered from there, marked cached again, and taken out of the group. Looked up in bulk, and only
   * once some cache entry is older than a marker lives (before that, a missing marker is a miss).
   */
  async #answerFromCache(group: Group): Promise<void> {
    const candidates = group.jobs.filter((h) => h.data.cacheFrom !== undefined && h.data.attempt === 0);
    if (candidates.length === 0 || !(await this.#markersMayHaveLapsed())) return;
    const from = new Map(candidates.map((h) => [h.data.key, h.data.cacheFrom!]));
    const entries = await this.#o.store.cache.getMany([...from.keys()], from);
    const hits = new Map(entries.map((entry) => [entry._id, entry.body]));
    const answered = candidates.filter((h) => hits.has(h.data.key));
    if (answered.length === 0) return;
    await this.#o.outcomes.answerUnbatched(
      answered.map(({ data }) => ({
        requestId: data.requestId,
        key: data.key,
        answer: { statusCode: 200, body: hits.get(data.key)! },
      })),
    );
    for (const held of answered) group.jobs.splice(group.jobs.indexOf(held), 1);
    await this.#complete(answered);
    this.#o.log.info({ group: group.key, answered: answered.length }, "answered from MongoDB's cache");
  }

  async #markersMayHaveLapsed(): Promise<boolean> {
    const ttl = this.#o.markerTtlMs;
    if (!ttl) return false;
    if (this.#markersHoldUntil === Number.POSITIVE_INFINITY) return true;
    if (Date.now() < this.#markersHoldUntil) return false;
    // The answer is waited for a moment only: on FerretDB v1 finding the oldest entry scans and sorts
    // the whole cache (about 30 s with 200,000 entries under load, measured by the bench), and a flush
    // waiting on it held its callers that long. Past the moment the look-up goes on in the background,
    // and until it is known a missing marker is a miss. Only the first to ask waits: a burst's flushes
    // each waited their moment for the same look-up, a second or more added to every batch.
    this.#markersCheck ??= this.#checkMarkers(ttl).finally(() => {
      this.#markersCheck = null;
    });
    const check = this.#markersCheck;
    if (!this.#markersWaited.has(check)) {
      this.#markersWaited.add(check);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        check,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, MARKER_CHECK_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    return this.#markersHoldUntil === Number.POSITIVE_INFINITY;
  }

  async #checkMarkers(ttl: number): Promise<void> {
    const now = Date.now();
    try {
      const oldest = (await this.#o.store.cache.oldestAt())?.getTime();
      // Once an entry is older than a marker lives, some entries may lack theirs for good.
      if (oldest !== undefined && oldest + ttl <= now) this.#markersHoldUntil = Number.POSITIVE_INFINITY;
      else this.#markersHoldUntil = oldest !== undefined ? oldest + ttl : now + Math.min(ttl, 60_000);
    } catch (err) {
      this.#o.log.warn(
        { err: (err as Error).message },
        "could not read the cache's oldest entry; asking again in a minute",
      );
      this.#markersHoldUntil = now + 60_000;
    }
  }

  /**
   * Jobs whose request could not be recorded, for a reason of their own: they fail alone, with an
   * error to their callers, and leave the group, which goes on without them.
   */
  async #refuse(group: Group, refused: Map<string, string>): Promise<void> {
    const out = group.jobs.filter((held) => refused.has(held.data.requestId));
    for (const held of out) group.jobs.splice(group.jobs.indexOf(held), 1);
    this.#o.log.error(
      { refused: Object.fromEntries(out.map((h) => [h.data.requestId, refused.get(h.data.requestId)])) },
      "requests refused by the store fail alone",
    );
    await this.#deadLetter(out, (held) =>
      errorAnswer(400, `The request could not be stored: ${refused.get(held.data.requestId)}.`, {
        code: "request_not_stored",
      }),
    );
  }

  /**
   * Jobs not yet completed whose flush failed: back to the queue through BullMQ's retry (after a
   * backoff), to be collated again (their lines' fences decide where they go); on their last try, failed
   * with an error to their callers. Were they kept in `#held`, their locks would be extended forever
   * and nobody would take them. If moving one fails, its lock (no longer extended) expires and the
   * stalled check returns it.
   */
  async #retryLater(jobs: HeldJob[], err: unknown): Promise<void> {
    const pending = jobs.filter((held) => this.#held.has(held));
    // A job queued without BullMQ retries (before they were set) would be dropped by BullMQ: answer it now.
    const last = pending.filter(
      ({ job }) => job.attemptsMade + 1 >= Math.min(this.#maxAttempts, job.opts.attempts ?? 1),
    );
    const reason = err instanceof Error ? err.message : String(err);
    await this.#deadLetter(last, () =>
      errorAnswer(500, `The request could not be placed in a batch: ${reason}.`, {
        type: "server_error",
        code: "collation_failed",
      }),
    );
    const error = err instanceof Error ? err : new Error(reason);
    await Promise.all(
      pending
        .filter((held) => this.#letGo(held))
        .map(({ job, token }) =>
          this.#handle(job)
            .moveToFailed(error, token, false)
            .catch(() => {}),
        ),
    );
  }

  /** The dead-letter path: callers answered with `answerOf`, then the jobs failed for good. */
  async #deadLetter(jobs: HeldJob[], answerOf: (held: HeldJob) => StoredAnswer): Promise<void> {
    if (jobs.length === 0) return;
    await this.#o.outcomes.answerUnbatched(
      jobs.map((held) => ({ requestId: held.data.requestId, key: held.data.key, answer: answerOf(held) })),
    );
    const gone = new UnrecoverableError("failed alone; its callers were answered");
    await Promise.all(
      jobs
        .filter((held) => this.#letGo(held))
        .map(({ job, token }) =>
          this.#handle(job)
            .moveToFailed(gone, token, false)
            .catch(() => {}),
        ),
    );
  }

  /** A BullMQ job to move a held job on with (rebuilt from its ref). */
  #handle(ref: JobRef) {
    return jobHandle(this.#worker, ref);
  }

  async #extendLocks(): Promise<void> {
    const held = [...this.#held];
    if (held.length === 0) return;
    try {
      await this.#worker.extendJobLocks(
        held.map((h) => h.job.id!),
        held.map((h) => h.token),
        this.#lockMs,
      );
    } catch (err) {
      this.#o.log.warn({ err: String(err) }, "extending job locks failed");
    }
  }

  /** Flushes what is held (so nothing waits for a restart), then stops fetching. */
  async close(): Promise<void> {
    this.#running = false;
    this.#madeRoom();
    for (const group of [...this.#groups.values()]) this.#flush(group);
    await Promise.allSettled([...this.#flushing]);
    clearInterval(this.#lockTimer);
    await this.#worker.close();
    await this.#loop?.catch(() => {});
  }
}
