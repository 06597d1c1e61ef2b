// The published numbers this project is measured against. Imports nothing.

/** The depths of the paper's CIFAR-10 table. */
export const PAPER_DEPTHS = [20, 32, 44, 56, 110, 1202] as const;
/** The paper's CIFAR-10 test errors (%) by depth, option A (Table 6; 110: the best of 5 runs, whose mean is 6.61). */
export const PAPER_TEST_ERRORS: Readonly<Record<number, number>> = { 20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93 };

/** The seed article's own PyTorch reproduction (mean test error, %, option A). */
export const SEED_ARTICLE_TEST_ERRORS: Readonly<Record<number, number>> = { 20: 8.59, 32: 7.73, 44: 7.54, 56: 7.88 };
