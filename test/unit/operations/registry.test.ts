/**
 * Every operation of the registry is a well-formed tool: a unique kind, tool and command; a
 * strict schema that requires `target`; a command-line shape that takes TARGET. A new
 * operation is held to this without a test of its own.
 */
import { expect } from 'chai';
import { Command } from 'commander';
import { ValidationError } from '../../../src/errors.js';
import { parseParams } from '../../../src/params/operations.js';
import { OPERATIONS } from '../../../src/operations/registry.js';
import { registerOpsCommands } from '../../../src/cli/ops.js';

describe('operations registry', () => {
  it('names, tools and commands are unique; each tool is tools.docker.<name>', () => {
    const names = OPERATIONS.map((d) => d.name);
    expect(new Set(names).size).to.equal(names.length);
    expect(new Set(OPERATIONS.map((d) => d.cli.command)).size).to.equal(names.length);
    for (const d of OPERATIONS) expect(d.tool).to.equal(`tools.docker.${d.name}`);
  });

  for (const d of OPERATIONS) {
    it(`${d.name}: its schema requires target and refuses an unknown key, naming each`, () => {
      const fieldOf = (input: unknown) => {
        try {
          parseParams(d.schema, input);
        } catch (err) {
          expect(err).to.be.instanceOf(ValidationError);
          return (err as ValidationError).field;
        }
        throw new Error('expected a ValidationError');
      };
      expect(fieldOf({})).to.equal('target');
      expect(fieldOf({ target: 'abcd', not_a_parameter: 1 })).to.be.oneOf(['not_a_parameter', 'command', 'path']);
    });
  }

  it('the command line has one subcommand per operation, beside stop, rm and wait', () => {
    const program = new Command().enablePositionalOptions();
    registerOpsCommands(program);
    const commands = program.commands.map((c) => c.name());
    expect(commands).to.include.members([...OPERATIONS.map((d) => d.cli.command), 'stop', 'rm', 'wait']);
    for (const d of OPERATIONS) {
      const c = program.commands.find((x) => x.name() === d.cli.command)!;
      expect(c.options.map((o) => o.long)).to.include.members(['--tenant', '--json']);
    }
  });
});
