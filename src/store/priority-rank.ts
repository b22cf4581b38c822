import { PRIORITIES, type Priority } from '../message/types.js'

/** Priorities are stored as numbers so that ordering by them is ordering by urgency. */
export function priorityRank(priority: Priority): number {
  return PRIORITIES.indexOf(priority)
}

/** The priority stored as `rank`; an unknown number reads as `normal` rather than failing a listing. */
export function priorityFromRank(rank: number): Priority {
  return PRIORITIES[rank] ?? 'normal'
}
