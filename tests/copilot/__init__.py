"""Tests of the copilot package: people, proposals, policy, approvals, executor, audit."""
