import { describe, expect, it } from 'vitest';
import { createRandom } from '../../lib/domain/random';
import {
  StageTransitionError,
  applyTagWrites,
  checkInvariants,
  promoteToProduction,
  rejectStaged,
  stageChallenger,
  stageOf,
  unstage,
  type ModelVersionTags,
  type Stage,
  type TagWrite,
} from '../../lib/domain/stages';

type Transition = (versions: readonly ModelVersionTags[], version: string) => TagWrite[];

/** Versions from a compact description: version → stage (undefined = no tag). Other tags are kept as noise. */
const model = (stages: Record<string, Stage | undefined>): ModelVersionTags[] =>
  Object.entries(stages).map(([version, stage]) => ({
    version,
    tags: stage === undefined ? { owner: 'team-a' } : ({ owner: 'team-a', stage } as Record<string, string>),
  }));

const stagesOf = (versions: readonly ModelVersionTags[]) =>
  Object.fromEntries(versions.map((version) => [version.version, stageOf(version)]));

describe('stage transitions', () => {
  it.each<{
    name: string;
    transition: Transition;
    before: Record<string, Stage | undefined>;
    version: string;
    writes: TagWrite[];
  }>([
    {
      name: 'stageChallenger tags a new winner',
      transition: stageChallenger,
      before: { '1': 'production', '2': undefined },
      version: '2',
      writes: [{ version: '2', set: { stage: 'staged' } }],
    },
    {
      name: 'stageChallenger unstages the previous staged version',
      transition: stageChallenger,
      before: { '1': 'production', '2': 'staged', '3': undefined },
      version: '3',
      writes: [
        { version: '2', set: { stage: 'unstaged' } },
        { version: '3', set: { stage: 'staged' } },
      ],
    },
    {
      name: 'stageChallenger may re-stage a surpassed version (rollback candidate)',
      transition: stageChallenger,
      before: { '1': 'surpassed', '2': 'production' },
      version: '1',
      writes: [{ version: '1', set: { stage: 'staged' } }],
    },
    {
      name: 'stageChallenger repairs two staged versions',
      transition: stageChallenger,
      before: { '1': 'staged', '2': 'staged', '3': undefined },
      version: '2',
      writes: [{ version: '1', set: { stage: 'unstaged' } }],
    },
    {
      name: 'promoteToProduction surpasses the previous production version',
      transition: promoteToProduction,
      before: { '1': 'production', '2': 'staged' },
      version: '2',
      writes: [
        { version: '1', set: { stage: 'surpassed' } },
        { version: '2', set: { stage: 'production' } },
      ],
    },
    {
      name: 'promoteToProduction of the first model',
      transition: promoteToProduction,
      before: { '1': 'staged' },
      version: '1',
      writes: [{ version: '1', set: { stage: 'production' } }],
    },
    {
      name: 'promoteToProduction rolls back to a surpassed version',
      transition: promoteToProduction,
      before: { '1': 'surpassed', '2': 'production' },
      version: '1',
      writes: [
        { version: '2', set: { stage: 'surpassed' } },
        { version: '1', set: { stage: 'production' } },
      ],
    },
    {
      name: 'unstage a staged version',
      transition: unstage,
      before: { '1': 'production', '2': 'staged' },
      version: '2',
      writes: [{ version: '2', set: { stage: 'unstaged' } }],
    },
    {
      name: 'unstage leaves a production version alone',
      transition: unstage,
      before: { '1': 'production' },
      version: '1',
      writes: [],
    },
    {
      name: 'rejectStaged sets unstaged',
      transition: rejectStaged,
      before: { '1': 'production', '2': 'staged' },
      version: '2',
      writes: [{ version: '2', set: { stage: 'unstaged' } }],
    },
    {
      name: 'a late rejection of an older candidate does not unstage the newer one',
      transition: rejectStaged,
      before: { '1': 'production', '2': 'unstaged', '3': 'staged' },
      version: '2',
      writes: [],
    },
  ])('$name, and repeating it writes nothing', ({ transition, before, version, writes }) => {
    const versions = model(before);
    expect(transition(versions, version)).toEqual(writes);
    const after = applyTagWrites(versions, writes);
    expect(transition(after, version)).toEqual([]);
    expect(checkInvariants(after)).toEqual([]);
    // Tags other than `stage` are never touched.
    expect(after.every((candidate) => candidate.tags.owner === 'team-a')).toBe(true);
  });

  it.each<{ name: string; transition: Transition; before: Record<string, Stage | undefined>; version: string }>([
    {
      name: 'staging the production version',
      transition: stageChallenger,
      before: { '1': 'production' },
      version: '1',
    },
    { name: 'staging an unknown version', transition: stageChallenger, before: { '1': 'production' }, version: '9' },
    { name: 'promoting an unknown version', transition: promoteToProduction, before: {}, version: '1' },
    { name: 'unstaging an unknown version', transition: unstage, before: { '1': 'staged' }, version: '2' },
  ])('refuses $name', ({ transition, before, version }) => {
    expect(() => transition(model(before), version)).toThrow(StageTransitionError);
  });
});

describe('checkInvariants', () => {
  it.each([
    { name: 'consistent tags', versions: model({ '1': 'surpassed', '2': 'production', '3': 'staged' }), kinds: [] },
    { name: 'no tags at all', versions: model({ '1': undefined, '2': undefined }), kinds: [] },
    { name: 'two staged', versions: model({ '1': 'staged', '2': 'staged' }), kinds: ['multiple-staged'] },
    {
      name: 'two in production',
      versions: model({ '1': 'production', '2': 'production' }),
      kinds: ['multiple-production'],
    },
    {
      name: 'an unknown stage value',
      versions: [{ version: '1', tags: { stage: 'Production' } }],
      kinds: ['unknown-stage'],
    },
    {
      name: 'a version listed twice',
      versions: [...model({ '1': 'staged' }), ...model({ '1': undefined })],
      kinds: ['duplicate-version'],
    },
  ])('$name → $kinds', ({ versions, kinds }) => {
    expect(checkInvariants(versions).map((violation) => violation.kind)).toEqual(kinds);
  });
});

describe('random transition sequences (property style)', () => {
  const transitions = { stageChallenger, promoteToProduction, unstage, rejectStaged } as const;
  const names = Object.keys(transitions) as (keyof typeof transitions)[];

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'seed %i: invariants hold after every step and transitions are idempotent',
    (seed) => {
      const random = createRandom(seed);
      let versions: ModelVersionTags[] = [];
      for (let step = 0; step < 300; step++) {
        // Registering a new version (no stage) is part of the sequence too.
        if (versions.length === 0 || random.nextInt(5) === 0) {
          versions = [...versions, { version: String(versions.length + 1), tags: {} }];
          continue;
        }
        const name = names[random.nextInt(names.length)] as keyof typeof transitions;
        const target = (versions[random.nextInt(versions.length)] as ModelVersionTags).version;
        const before = versions;
        let writes: TagWrite[];
        try {
          writes = transitions[name](before, target);
        } catch (error) {
          // The only refusal: staging the version in production.
          expect(error).toBeInstanceOf(StageTransitionError);
          expect(name).toBe('stageChallenger');
          expect(stageOf(before.find((candidate) => candidate.version === target)!)).toBe('production');
          continue;
        }
        // Minimal: every write changes a stage.
        for (const write of writes) {
          const current = before.find((candidate) => candidate.version === write.version)!;
          expect(write.set?.stage).not.toBe(stageOf(current));
        }
        versions = applyTagWrites(before, writes);
        expect(checkInvariants(versions)).toEqual([]);
        expect(transitions[name](versions, target)).toEqual([]);

        const stages = stagesOf(versions);
        if (name === 'stageChallenger') expect(stages[target]).toBe('staged');
        if (name === 'promoteToProduction') expect(stages[target]).toBe('production');
        if ((name === 'unstage' || name === 'rejectStaged') && stagesOf(before)[target] === 'staged') {
          expect(stages[target]).toBe('unstaged');
        }
        // A version that once passed evaluation never loses its stage tag.
        const lostTag = before.filter((candidate) => stageOf(candidate) !== undefined && !stages[candidate.version]);
        expect(lostTag).toEqual([]);
      }
    },
  );
});
