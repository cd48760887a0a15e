"""Text corpora the redactor is measured on: ordinary UI strings it must leave alone."""
