<?php

namespace Hurah\Types\Exception;

/** Stand-in for hurah/data-types' HurahException (abstract, as there). */
abstract class HurahException extends \Exception
{
}
